<?php
// Queue Callback: the FreePBX side of freepbx-callback. Thin on purpose: every rule lives in the Python
// package; the module runs the `freepbx-callback` command (lib/CliRunner.php, argv array, no shell) and
// shows what it prints. This BMO class keeps the methods FreePBX calls and hands each concern to lib/:
// Page (the module page), QueueTab (the queue form's tab and its saves/deletes), DialplanHook, Ajax,
// Health (doctor + notifications), Settings/Requests/ApiKeys (CLI calls), StatsChart (the page's chart),
// Queues (FreePBX's queues API).
namespace FreePBX\modules;

use BMO;
use FreePBX_Helpers;
use FreePBX\modules\Queuecallback\Ajax;
use FreePBX\modules\Queuecallback\ApiKeys;
use FreePBX\modules\Queuecallback\CliError;
use FreePBX\modules\Queuecallback\CliRunner;
use FreePBX\modules\Queuecallback\DialplanHook;
use FreePBX\modules\Queuecallback\ForeignKeys;
use FreePBX\modules\Queuecallback\Health;
use FreePBX\modules\Queuecallback\Notices;
use FreePBX\modules\Queuecallback\Page;
use FreePBX\modules\Queuecallback\Queues;
use FreePBX\modules\Queuecallback\QueueTab;
use FreePBX\modules\Queuecallback\Requests;
use FreePBX\modules\Queuecallback\Runtime;
use FreePBX\modules\Queuecallback\Settings;
use FreePBX\modules\Queuecallback\Sounds;

foreach (array('Process', 'Runtime', 'Sounds', 'CliRunner', 'ForeignKeys', 'Notices', 'Queues', 'Settings', 'Requests', 'ApiKeys', 'StatsChart', 'Health', 'DialplanHook', 'QueueTab', 'Page', 'Ajax') as $qcbLib) {
	require_once __DIR__ . '/lib/' . $qcbLib . '.php';
}
unset($qcbLib);

class Queuecallback extends FreePBX_Helpers implements BMO {
	const RAWNAME = 'queuecallback';
	const JOB = 'dial';
	const HEALTH_JOB = 'health';

	/** @var CliRunner */
	private $cli;
	/** @var array<string, object> the lib/ parts, made on first use */
	private $parts = array();

	public function __construct($freepbx = null, $cli = null) {
		if ($freepbx === null) {
			throw new \Exception('Not given a FreePBX Object');
		}
		$this->FreePBX = $freepbx;
		$this->db = $freepbx->Database;
		$this->cli = $cli instanceof CliRunner ? $cli : new CliRunner($this->getConfig('cli_path') ?: null, 60, $this->varlib());
	}

	/** FreePBX's ASTVARLIBDIR (where lib/Runtime.php keeps the runtime's `current` link), or null. */
	private function varlib() {
		$config = $this->bmo('Config');
		$varlib = is_object($config) && method_exists($config, 'get') ? $config->get('ASTVARLIBDIR') : null;
		return is_string($varlib) && $varlib !== '' ? $varlib : null;
	}

	public function cli() {
		return $this->cli;
	}

	/** Translate in this module's domain wherever FreePBX left the 'amp' domain active (hooks). */
	public static function t($text) {
		if (class_exists('modgettext', false) || class_exists('\modgettext')) {
			return \modgettext::_($text, self::RAWNAME);
		}
		return _($text);
	}

	public static function h($value) {
		return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
	}

	// --- install / uninstall --------------------------------------------------------------------------

	public function install() {
		$given = getenv('QCB_CLI');
		if (!is_string($given) || $given === '') {
			// The Python runtime, built offline from the package's wheels/ (lib/Runtime.php), so that Module Admin
			// and `fwconsole ma install` need no shell step; it throws with what root must run when the host lacks
			// something. $QCB_CLI names a command to use instead (the PHPUnit harness sets it): nothing to build.
			$cliPath = Runtime::forModule(__DIR__, $this->FreePBX, array('log' => function ($line) {
				$this->out($line);
			}))->ensure();
			$this->setConfig('cli_path', $cliPath);
			$this->cli = new CliRunner($cliPath, 60, $this->varlib());
			$this->parts = array();
		}
		if (!$this->cli->available()) {
			throw new \Exception(sprintf(
				self::t('The freepbx-callback command was not found at %s. Install the Python package first (packaging/install.sh, or pip install freepbx-callback into /opt/freepbx-callback/venv and link bin/freepbx-callback to /usr/local/bin), then install this module again.'),
				$this->cli->path()
			));
		}
		$migrate = $this->cli->run(array('db', 'migrate'));
		if ($migrate['exit'] !== 0) {
			throw new \Exception(sprintf(
				self::t('freepbx-callback db migrate failed: %s'),
				CliRunner::errorLine($migrate['stderr'])
			));
		}
		$this->out(trim($migrate['stdout']));
		$this->registerDialer();
		// the prompts' languages must exist in Asterisk's sounds folder for the reload to link them
		foreach (Sounds::prepareLanguages(__DIR__, $this->varlib() . '/sounds') as $folder) {
			$this->out(sprintf(self::t('Created %s for the Russian and English prompts.'), $folder));
		}
		return true;
	}

	public function uninstall() {
		$this->unregisterDialer();
		$this->removeCopiedFiles();
		// FreePBX drops the <database> tables after this; without the foreign keys any order works.
		ForeignKeys::dropAll($this->db);
		return true;
	}

	/** The per-minute dialer tick: FreePBX's Job scheduler when present (17), else a crontab line. */
	public function dialerCommand() {
		return $this->cli->path() . ' dial';
	}

	/**
	 * The per-minute dialer tick, and with FreePBX's Job scheduler also the health check every 5 minutes
	 * (Job.php: doctor → notifications, so a failing check shows without anyone opening the page).
	 */
	public function registerDialer() {
		$command = $this->dialerCommand();
		$job = $this->bmo('Job');
		if ($job !== null && method_exists($job, 'addCommand')) {
			$job->addCommand(self::RAWNAME, self::JOB, $command, '* * * * *', 60);
			if (method_exists($job, 'addClass')) {
				$job->addClass(self::RAWNAME, self::HEALTH_JOB, 'FreePBX\\modules\\Queuecallback\\Job', '*/5 * * * *', 60);
			}
			$this->setConfig('dialer', 'job');
		} else {
			$this->FreePBX->Cron->addLine('* * * * * ' . escapeshellarg($this->cli->path()) . ' dial >/dev/null 2>&1');
			$this->setConfig('dialer', 'cron');
		}
	}

	public function unregisterDialer() {
		$job = $this->bmo('Job');
		if ($job !== null && method_exists($job, 'remove')) {
			$job->remove(self::RAWNAME, self::JOB);
			$job->remove(self::RAWNAME, self::HEALTH_JOB);
		}
		$cron = $this->bmo('Cron');
		if ($cron !== null) {
			foreach ($cron->getAll() as $line) {
				if (preg_match('#freepbx-callback\'? dial\b#', $line)) {
					$cron->remove($line);
				}
			}
		}
		$this->setConfig('dialer', false);
	}

	/** fwconsole reload copies agi-bin/ and links sounds/; uninstall leaves both, so remove ours here. */
	public function removeCopiedFiles() {
		$removed = array();
		$agidir = $this->FreePBX->Config->get('ASTAGIDIR');
		if ($agidir && is_dir($agidir)) {
			$names = array();
			foreach ((array)glob(__DIR__ . '/agi-bin/qcb-*.agi') as $file) {
				$names[] = basename($file);
			}
			foreach ((array)glob(rtrim($agidir, '/') . '/qcb-*.agi') as $file) {
				$names[] = basename($file);
			}
			foreach (array_unique($names) as $name) {
				$path = rtrim($agidir, '/') . '/' . $name;
				if ((is_file($path) || is_link($path)) && @unlink($path)) {
					$removed[] = $path;
				}
			}
		}
		$varlib = $this->FreePBX->Config->get('ASTVARLIBDIR');
		if ($varlib && is_dir($varlib . '/sounds')) {
			foreach (array_merge((array)glob($varlib . '/sounds/qcb-*'), (array)glob($varlib . '/sounds/*/qcb-*')) as $path) {
				$target = is_link($path) ? readlink($path) : '';
				if ($target !== '' && strpos($target, '/modules/' . self::RAWNAME . '/') !== false && @unlink($path)) {
					$removed[] = $path;
				}
			}
		}
		return $removed;
	}

	/** A FreePBX object by name, or null when this FreePBX has none (e.g. Job before 17). */
	private function bmo($name) {
		try {
			return $this->FreePBX->$name;
		} catch (\Throwable $e) {
			return null;
		}
	}

	private function out($text) {
		if ($text === '') {
			return;
		}
		if (function_exists('out')) {
			out($text);
		}
	}

	// --- the parts ------------------------------------------------------------------------------------

	private function part($name, $make) {
		if (!isset($this->parts[$name])) {
			$this->parts[$name] = $make();
		}
		return $this->parts[$name];
	}

	public function notices() {
		return $this->part('notices', function () { return new Notices($this->bmo('Notifications')); });
	}

	public function queues() {
		return $this->part('queues', function () { return new Queues($this->bmo('Queues')); });
	}

	public function queueSettings() {
		return $this->part('settings', function () { return new Settings($this->cli, $this->bmo('Recordings')); });
	}

	public function requests() {
		return $this->part('requests', function () { return new Requests($this->cli); });
	}

	public function apiKeys() {
		return $this->part('apikeys', function () { return new ApiKeys($this->cli); });
	}

	public function health() {
		return $this->part('health', function () { return new Health($this->cli, $this->notices()); });
	}

	public function page() {
		return $this->part('page', function () { return new Page($this); });
	}

	// --- the module page --------------------------------------------------------------------------------

	public function doConfigPageInit($page) {
		if ($page === 'queues') {
			return $this->queueTab()->pageInit($_REQUEST);
		}
		if ($page === self::RAWNAME) {
			$this->page()->init($_REQUEST, $_POST, isset($_SERVER['REQUEST_METHOD']) ? $_SERVER['REQUEST_METHOD'] : 'GET');
		}
		return null;
	}

	public function showPage() {
		return $this->page()->show($_REQUEST, $_POST);
	}

	public function getActionBar($request) {
		return Page::actionBar((array)$request);
	}

	// --- the queue form tab (module.xml <hooks>) and the queues page's saves/deletes ------------------------

	public function queueTab() {
		return $this->part('tab', function () { return new QueueTab($this->queueSettings(), $this->queues(), $this->notices()); });
	}

	public function queuesTab() {
		return $this->queueTab()->render($_REQUEST);
	}

	public function myConfigPageInits() {
		return array('queues');
	}

	// --- dialplan -------------------------------------------------------------------------------------

	public function myDialplanHooks() {
		return 600;
	}

	public function dialplanHook() {
		return $this->part('dialplan', function () {
			return new DialplanHook($this->cli, $this->queues(), $this->notices(), $this->FreePBX->Config);
		});
	}

	public function doDialplanHook(&$ext, $engine, $priority) {
		$this->dialplanHook()->run($ext, $engine);
	}

	// --- AJAX -----------------------------------------------------------------------------------------

	public function ajaxRequest($req, &$setting) {
		return Ajax::allowed($req);
	}

	public function ajaxHandler() {
		$ajax = new Ajax($this);
		return $ajax->handle($_REQUEST, $_POST, isset($_SERVER['REQUEST_METHOD']) ? $_SERVER['REQUEST_METHOD'] : 'GET');
	}

	// --- backup and restore (Backup.php, Restore.php for FreePBX's backup module) --------------------------

	/**
	 * Settings and requests exactly as `freepbx-callback backup --json` prints them: the JSON text itself, so
	 * nothing changes on the way (PHP would turn an empty JSON object into a list).
	 */
	public function backupData() {
		$result = $this->cli->check(array('backup', '--json'));
		$text = trim($result['stdout']);
		if (!is_array(json_decode($text, true))) {
			throw new CliError('freepbx-callback backup printed no JSON', -1);
		}
		return $text;
	}

	/** Put backed-up data (the JSON text backupData() returned) back with `freepbx-callback restore FILE`. */
	public function restoreData($data) {
		$file = tempnam(sys_get_temp_dir(), 'qcb-restore-');
		if ($file === false) {
			throw new CliError('cannot create a temporary file for the restore', -1);
		}
		try {
			chmod($file, 0600);
			if (file_put_contents($file, (string)$data) === false) {
				throw new CliError(sprintf('cannot write %s', $file), -1);
			}
			$result = $this->cli->check(array('restore', '--', $file));
		} finally {
			@unlink($file);
		}
		if (function_exists('needreload')) {
			needreload();
		}
		return trim($result['stdout']);
	}
}
