<?php
// Queue Callback: the FreePBX side of freepbx-callback. Thin on purpose: every change and every rule lives in
// the Python package; this class checks the shape of the input, runs the `freepbx-callback` command with an
// argv array (no shell) and renders what it prints.
namespace FreePBX\modules;

use BMO;
use FreePBX_Helpers;
use PDO;
use FreePBX\modules\Queuecallback\CliError;
use FreePBX\modules\Queuecallback\CliRunner;

require_once __DIR__ . '/lib/CliRunner.php';

class Queuecallback extends FreePBX_Helpers implements BMO {
	const RAWNAME = 'queuecallback';
	const JOB = 'dial';
	const STATUSES = array('pending', 'dialing', 'done', 'failed', 'expired', 'cancelled');
	const MODES = array('agent-first', 'customer-first');
	const LANGUAGES = array('en', 'ru');
	const AJAX_COMMANDS = array('requests', 'cancel', 'retry', 'savequeue', 'stats', 'queues');

	/** @var CliRunner */
	private $cli;
	/** @var string[] messages of the last page action, shown above the page */
	public $messages = array();
	/** @var string[] errors of the last page action */
	public $errors = array();

	public function __construct($freepbx = null, $cli = null) {
		if ($freepbx === null) {
			throw new \Exception('Not given a FreePBX Object');
		}
		$this->FreePBX = $freepbx;
		$this->db = $freepbx->Database;
		$this->cli = $cli instanceof CliRunner ? $cli : new CliRunner($this->getConfig('cli_path') ?: null);
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
		return true;
	}

	public function uninstall() {
		$this->unregisterDialer();
		$this->removeCopiedFiles();
		// FreePBX drops the <database> tables after this; without the foreign keys any order works.
		foreach (array('qcb_attempts' => 'fk_attempt_request', 'qcb_events' => 'fk_event_request') as $table => $fk) {
			try {
				$this->db->exec("ALTER TABLE `$table` DROP FOREIGN KEY IF EXISTS `$fk`");
			} catch (\Exception $e) {
				// The table is already gone: nothing to loosen.
			}
		}
		return true;
	}

	/** The per-minute dialer tick: FreePBX's Job scheduler when present (17), else a crontab line. */
	public function dialerCommand() {
		return $this->cli->path() . ' dial';
	}

	public function registerDialer() {
		$command = $this->dialerCommand();
		$job = $this->bmo('Job');
		if ($job !== null && method_exists($job, 'addCommand')) {
			$job->addCommand(self::RAWNAME, self::JOB, $command, '* * * * *', 60);
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

	// --- queue data -----------------------------------------------------------------------------------

	/** FreePBX queues: extension => array(descr, ivr_id, callback_id). */
	public function freepbxQueues() {
		$queues = array();
		try {
			$stmt = $this->db->query('SELECT extension, descr, ivr_id, callback_id FROM queues_config ORDER BY extension');
			foreach ($stmt->fetchAll(PDO::FETCH_ASSOC) as $row) {
				$queues[(string)$row['extension']] = array(
					'descr' => (string)$row['descr'],
					'ivr_id' => (string)$row['ivr_id'],
					'callback_id' => (string)$row['callback_id'],
				);
			}
		} catch (\Exception $e) {
			// No queues module tables (or no access): the page still shows our own settings.
		}
		return $queues;
	}

	/** Why a queue's context= is taken by another module, or '' when it is free for our break-out. */
	public function contextConflict(array $queue) {
		if (!in_array($queue['ivr_id'], array('', 'none', '0'), true)) {
			return sprintf(self::t('an IVR break-out (IVR %s)'), $queue['ivr_id']);
		}
		if (!in_array($queue['callback_id'], array('', 'none', '0'), true)) {
			return sprintf(self::t('a VQPlus callback (%s)'), $queue['callback_id']);
		}
		return '';
	}

	/** Our settings of every queue, keyed by queue number (CLI `queue list --json`). */
	public function settings() {
		$out = array();
		foreach ($this->cli->json(array('queue', 'list')) as $row) {
			$out[(string)$row['queue']] = $row;
		}
		return $out;
	}

	public function defaults($queue) {
		return array(
			'queue' => (string)$queue, 'enabled' => false, 'did' => null, 'attempts' => 2, 'retry_interval' => 300,
			'window' => 600, 'offer_every' => 30, 'notify_agents' => true, 'mode' => 'agent-first',
			'max_pending' => null, 'language' => 'en', 'block_patterns' => array(), 'allow_patterns' => array(),
			'prompts' => array(),
		);
	}

	/** System recordings for the prompt choice: id => array(displayname, filename). */
	public function recordings() {
		$out = array();
		try {
			$recordings = $this->bmo('Recordings');
			if ($recordings !== null) {
				foreach ((array)$recordings->getAllRecordings(false) as $row) {
					$out[(string)$row['id']] = array('name' => (string)$row['displayname'], 'file' => (string)$row['filename']);
				}
			}
		} catch (\Exception $e) {
			// Recordings module missing: only the shipped prompts.
		}
		return $out;
	}

	private function recordingFile($id) {
		$file = '';
		try {
			$file = (string)$this->FreePBX->Recordings->getFilenameById($id);
		} catch (\Exception $e) {
			$file = '';
		}
		// Like queues' periodic-announce: the first segment of a compound recording.
		$parts = explode('&', $file);
		return $parts[0];
	}

	// --- input ----------------------------------------------------------------------------------------

	/**
	 * Check the shape of a queue settings form and turn it into `queue set` arguments.
	 * Returns array($argv, $errors). The rules proper (ranges, patterns, numbers) are the CLI's.
	 */
	public function queueArgs(array $in) {
		$errors = array();
		$queue = isset($in['queue']) ? trim((string)$in['queue']) : '';
		if (!preg_match('/^[A-Za-z0-9_-]{1,32}$/', $queue)) {
			return array(array(), array(self::t('Queue: use 1-32 letters, digits, "-" or "_".')));
		}
		$args = array('queue', 'set', $queue);
		$args[] = !empty($in['enabled']) && $in['enabled'] !== '0' ? '--enable' : '--disable';
		$did = isset($in['did']) ? preg_replace('/[\s-]/', '', (string)$in['did']) : '';
		if ($did !== '') {
			if (!preg_match('/^\+?[0-9]{2,20}$/', $did)) {
				$errors[] = self::t('DID: digits with an optional leading +.');
			} else {
				$args[] = '--did';
				$args[] = $did;
			}
		}
		$ints = array(
			'attempts' => array('--attempts', 1, 10, self::t('Attempts')),
			'retry_interval' => array('--retry-interval', 10, 86400, self::t('Retry interval')),
			'window' => array('--window', 10, 86400, self::t('Callback window')),
			'offer_every' => array('--offer-every', 5, 3600, self::t('Offer every')),
		);
		foreach ($ints as $key => $spec) {
			if (!isset($in[$key]) || trim((string)$in[$key]) === '') {
				continue;
			}
			$value = trim((string)$in[$key]);
			if (!preg_match('/^[0-9]{1,6}$/', $value) || (int)$value < $spec[1] || (int)$value > $spec[2]) {
				$errors[] = sprintf(self::t('%s: a whole number from %d to %d.'), $spec[3], $spec[1], $spec[2]);
				continue;
			}
			$args[] = $spec[0];
			$args[] = (string)(int)$value;
		}
		if (isset($in['max_pending'])) {
			$value = trim((string)$in['max_pending']);
			if ($value === '') {
				$args[] = '--no-max-pending';
			} elseif (!preg_match('/^[0-9]{1,6}$/', $value) || (int)$value > 100000) {
				$errors[] = sprintf(self::t('%s: a whole number from %d to %d.'), self::t('Open requests limit'), 0, 100000);
			} else {
				$args[] = '--max-pending';
				$args[] = (string)(int)$value;
			}
		}
		$args[] = !empty($in['notify_agents']) && $in['notify_agents'] !== '0' ? '--notify-agents' : '--no-notify-agents';
		if (isset($in['mode']) && $in['mode'] !== '') {
			if (!in_array($in['mode'], self::MODES, true)) {
				$errors[] = self::t('Mode: agent first or customer first.');
			} else {
				$args[] = '--mode';
				$args[] = $in['mode'];
			}
		}
		if (isset($in['language']) && $in['language'] !== '') {
			if (!in_array($in['language'], self::LANGUAGES, true)) {
				$errors[] = self::t('Language: English or Russian.');
			} else {
				$args[] = '--language';
				$args[] = $in['language'];
			}
		}
		if (isset($in['block_patterns']) || isset($in['allow_patterns'])) {
			$args[] = '--clear-patterns';
			foreach (array('block_patterns' => '--block', 'allow_patterns' => '--allow') as $key => $flag) {
				$text = isset($in[$key]) ? (string)$in[$key] : '';
				foreach (preg_split('/[\s,]+/', $text, -1, PREG_SPLIT_NO_EMPTY) as $pattern) {
					if (!preg_match('/^[A-Za-z0-9_+.\[\]!-]{1,40}$/', $pattern)) {
						$errors[] = sprintf(self::t('Pattern %s: digits, +, _, X, N, Z, [ ], ., ! only.'), $pattern);
						continue;
					}
					$args[] = $flag;
					$args[] = $pattern;
				}
			}
		}
		if (isset($in['offer_recording'])) {
			$id = (string)$in['offer_recording'];
			if ($id === '' || $id === 'default') {
				$args[] = '--prompt';
				$args[] = 'offer=';
			} elseif (!preg_match('/^[0-9]{1,10}$/', $id)) {
				$errors[] = self::t('Offer prompt: choose a system recording.');
			} else {
				$file = $this->recordingFile($id);
				if ($file === '') {
					$errors[] = self::t('Offer prompt: that system recording does not exist.');
				} else {
					$args[] = '--prompt';
					$args[] = 'offer=' . $file;
				}
			}
		}
		return array($args, $errors);
	}

	/** Save one queue's settings from a form (page POST, AJAX or the queue form tab). */
	public function saveQueue(array $in) {
		list($args, $errors) = $this->queueArgs($in);
		if ($errors) {
			return array('status' => false, 'message' => implode(' ', $errors), 'errors' => $errors);
		}
		try {
			$settings = $this->cli->json($args);
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage(), 'errors' => array($e->getMessage()));
		}
		if (function_exists('needreload')) {
			needreload();
		}
		return array(
			'status' => true,
			'message' => sprintf(self::t('Queue %s saved. Apply Config to update the dialplan.'), $settings['queue']),
			'settings' => $settings,
		);
	}

	public static function requestId($value) {
		$value = trim((string)$value);
		return preg_match('/^[1-9][0-9]{0,17}$/', $value) ? $value : null;
	}

	public function changeRequest($verb, $id) {
		$id = self::requestId($id);
		if ($id === null) {
			return array('status' => false, 'message' => self::t('Request: not a request number.'));
		}
		try {
			$row = $this->cli->json(array('request', $verb === 'cancel' ? 'cancel' : 'retry', $id));
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		$text = $verb === 'cancel' ? self::t('Request %s cancelled.') : self::t('Request %s will be called again.');
		return array('status' => true, 'message' => sprintf($text, $row['id']), 'request' => $row);
	}

	public function listRequests($status = '', $queue = '', $limit = 500) {
		$args = array('request', 'list', '--limit', (string)max(1, min(5000, (int)$limit)));
		if ($status !== '' && $status !== null) {
			if (!in_array($status, self::STATUSES, true)) {
				throw new CliError(self::t('Unknown status.'), CliRunner::INVALID);
			}
			$args[] = '--status';
			$args[] = $status;
		}
		if ($queue !== '' && $queue !== null) {
			if (!preg_match('/^[A-Za-z0-9_-]{1,32}$/', $queue)) {
				throw new CliError(self::t('Queue: use 1-32 letters, digits, "-" or "_".'), CliRunner::INVALID);
			}
			$args[] = '--queue';
			$args[] = $queue;
		}
		return $this->cli->json($args);
	}

	public function stats() {
		return $this->cli->json(array('stats'));
	}

	// --- page -----------------------------------------------------------------------------------------

	public function doConfigPageInit($page) {
		if ($page === 'queues') {
			return $this->queuesPageInit($_REQUEST);
		}
		if ($page !== self::RAWNAME) {
			return;
		}
		$action = isset($_REQUEST['action']) ? (string)$_REQUEST['action'] : '';
		// Changes only by POST; a GET with action= changes nothing.
		$isPost = isset($_SERVER['REQUEST_METHOD']) && strtoupper($_SERVER['REQUEST_METHOD']) === 'POST';
		if (!$isPost || $action === '') {
			return;
		}
		switch ($action) {
			case 'save':
				$result = $this->saveQueue($_POST);
				break;
			case 'cancel':
			case 'retry':
				$result = $this->changeRequest($action, isset($_POST['id']) ? $_POST['id'] : '');
				break;
			default:
				$result = array('status' => false, 'message' => self::t('Unknown action.'));
		}
		if ($result['status']) {
			$this->messages[] = $result['message'];
		} else {
			$this->errors[] = $result['message'];
			if ($action === 'save') {
				$_REQUEST['view'] = 'form';
			}
		}
	}

	public function showPage() {
		$request = $_REQUEST;
		$view = isset($request['view']) ? (string)$request['view'] : '';
		$vars = array('qcb' => $this, 'messages' => $this->messages, 'errors' => $this->errors);
		$queues = $this->freepbxQueues();
		try {
			$settings = $this->settings();
			$cliError = '';
		} catch (CliError $e) {
			$settings = array();
			$cliError = $e->getMessage();
		}
		if ($cliError !== '') {
			$vars['errors'][] = sprintf(_('freepbx-callback: %s'), $cliError);
		}
		if ($view === 'form') {
			$queue = isset($request['queue']) ? (string)$request['queue'] : '';
			if (!preg_match('/^[A-Za-z0-9_-]{1,32}$/', $queue)) {
				$vars['errors'][] = _('Queue: use 1-32 letters, digits, "-" or "_".');
				$view = '';
			} else {
				$current = isset($settings[$queue]) ? $settings[$queue] : $this->defaults($queue);
				if ($this->errors && isset($_POST['queue']) && $_POST['queue'] === $queue) {
					$current = array_merge($current, $this->postedSettings($_POST));
				}
				$vars['queue'] = $queue;
				$vars['settings'] = $current;
				$vars['freepbx'] = isset($queues[$queue]) ? $queues[$queue] : null;
				$vars['conflict'] = isset($queues[$queue]) ? $this->contextConflict($queues[$queue]) : '';
				$vars['recordings'] = $this->recordings();
				return load_view(__DIR__ . '/views/form.php', $vars);
			}
		}
		$status = isset($request['status']) && in_array($request['status'], self::STATUSES, true) ? $request['status'] : '';
		$vars['status'] = $status;
		$vars['queues'] = $queues;
		$vars['settings'] = $settings;
		$vars['conflicts'] = array();
		foreach ($queues as $num => $q) {
			$vars['conflicts'][$num] = $this->contextConflict($q);
		}
		try {
			$vars['requests'] = $cliError === '' ? $this->listRequests($status) : array();
			$vars['stats'] = $cliError === '' ? $this->stats() : null;
		} catch (CliError $e) {
			$vars['requests'] = array();
			$vars['stats'] = null;
			$vars['errors'][] = sprintf(_('freepbx-callback: %s'), $e->getMessage());
		}
		return load_view(__DIR__ . '/views/main.php', $vars);
	}

	/** What the admin typed, to show it again next to the errors. */
	private function postedSettings(array $in) {
		$out = array();
		foreach (array('did', 'attempts', 'retry_interval', 'window', 'offer_every', 'mode', 'language', 'max_pending') as $key) {
			if (isset($in[$key])) {
				$out[$key] = (string)$in[$key];
			}
		}
		$out['enabled'] = !empty($in['enabled']) && $in['enabled'] !== '0';
		$out['notify_agents'] = !empty($in['notify_agents']) && $in['notify_agents'] !== '0';
		foreach (array('block_patterns', 'allow_patterns') as $key) {
			if (isset($in[$key])) {
				$out[$key] = preg_split('/[\s,]+/', (string)$in[$key], -1, PREG_SPLIT_NO_EMPTY);
			}
		}
		return $out;
	}

	public function getActionBar($request) {
		if (!isset($request['display']) || $request['display'] !== self::RAWNAME) {
			return array();
		}
		if (!isset($request['view']) || $request['view'] !== 'form') {
			return array();
		}
		return array(
			'submit' => array('name' => 'submit', 'id' => 'submit', 'value' => _('Submit')),
			'reset' => array('name' => 'reset', 'id' => 'reset', 'value' => _('Reset')),
		);
	}

	// --- the queue form tab (module.xml <hooks>) -------------------------------------------------------

	public function queuesTab() {
		$queue = isset($_REQUEST['extdisplay']) ? (string)$_REQUEST['extdisplay'] : '';
		$settings = $this->defaults($queue);
		$error = '';
		if ($queue !== '') {
			try {
				$all = $this->settings();
				if (isset($all[$queue])) {
					$settings = $all[$queue];
				}
			} catch (CliError $e) {
				$error = $e->getMessage();
			}
		}
		$queues = $this->freepbxQueues();
		$conflict = $queue !== '' && isset($queues[$queue]) ? $this->contextConflict($queues[$queue]) : '';
		$content = load_view(__DIR__ . '/views/queues_tab.php', array(
			'queue' => $queue, 'settings' => $settings, 'error' => $error, 'conflict' => $conflict,
		));
		return array(array('rawname' => self::RAWNAME, 'title' => self::t('Callback'), 'content' => $content));
	}

	public function myConfigPageInits() {
		return array('queues');
	}

	/** Runs after the queues module saved (or deleted) a queue: store our two flags for it. */
	public function queuesPageInit(array $request) {
		$action = isset($request['action']) ? (string)$request['action'] : '';
		$queue = isset($request['account']) ? trim((string)$request['account']) : '';
		if ($queue === '' || !preg_match('/^[A-Za-z0-9_-]{1,32}$/', $queue)) {
			return null;
		}
		if ($action === 'delete') {
			return $this->forgetQueue($queue);
		}
		if (($action !== 'add' && $action !== 'edit') || !isset($request['qcb_present'])) {
			return null;
		}
		$queues = $this->freepbxQueues();
		if (!isset($queues[$queue])) {
			// The queues module refused the add (a number conflict): nothing to attach our flags to.
			return null;
		}
		$args = array(
			'queue', 'set', $queue,
			!empty($request['qcb_enabled']) && $request['qcb_enabled'] !== '0' ? '--enable' : '--disable',
			!empty($request['qcb_notify_agents']) && $request['qcb_notify_agents'] !== '0' ? '--notify-agents' : '--no-notify-agents',
		);
		try {
			$this->cli->json($args);
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		return array('status' => true);
	}

	/** A queue was deleted in FreePBX: purge its settings when the CLI can, else switch callback off. */
	public function forgetQueue($queue) {
		try {
			if ($this->cli->has(array('queue', 'delete'))) {
				$this->cli->run(array('queue', 'delete', $queue));
			} else {
				$this->cli->json(array('queue', 'set', $queue, '--disable'));
			}
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		return array('status' => true);
	}

	// --- dialplan -------------------------------------------------------------------------------------

	public function myDialplanHooks() {
		return 600;
	}

	public function doDialplanHook(&$ext, $engine, $priority) {
		if ($engine !== 'asterisk') {
			return;
		}
		try {
			$args = array('dialplan', '--target', 'freepbx');
			$agidir = $this->FreePBX->Config->get('ASTAGIDIR');
			if (is_string($agidir) && $agidir !== '') {
				$args[] = '--agi';
				$args[] = $agidir;
			}
			$rendered = $this->cli->json($args);
		} catch (CliError $e) {
			$this->notify('dialplan', self::t('Queue Callback: no dialplan'), sprintf(self::t('freepbx-callback dialplan failed: %s. Callers are not offered a callback until this is fixed.'), $e->getMessage()));
			return;
		}
		$this->clearNotice('dialplan');
		$this->addDialplan($ext, isset($rendered['dialplan']) ? (string)$rendered['dialplan'] : '');
		$queues = $this->freepbxQueues();
		$conflicts = array();
		$settings = isset($rendered['queues']) && is_array($rendered['queues']) ? $rendered['queues'] : array();
		$conf = class_exists('queues_conf') ? \queues_conf::create() : null;
		foreach ($settings as $queue => $lines) {
			$queue = (string)$queue;
			if (!isset($queues[$queue])) {
				$conflicts[] = sprintf(self::t('queue %s does not exist in FreePBX'), $queue);
				continue;
			}
			$why = $this->contextConflict($queues[$queue]);
			if ($why !== '') {
				$conflicts[] = sprintf(self::t('queue %1$s: its break-out is taken by %2$s, so callers are not offered a callback'), $queue, $why);
				continue;
			}
			if ($conf === null) {
				continue;
			}
			foreach ((array)$lines as $key => $value) {
				$conf->addQueuesAdditional($queue, (string)$key, (string)$value);
			}
		}
		if ($conflicts) {
			$this->notify('conflict', self::t('Queue Callback: queues without callback'), ucfirst(implode('; ', $conflicts)) . '.');
		} else {
			$this->clearNotice('conflict');
		}
	}

	/**
	 * Feed `extensions`-format text into FreePBX's dialplan object, line by line, as raw applications
	 * (no ext_agi: FreePBX 17 would rewrite AGI() to its own FastAGI server).
	 * Returns the number of lines added.
	 */
	public function addDialplan($ext, $text) {
		$context = null;
		$exten = null;
		$added = 0;
		foreach (preg_split('/\r?\n/', (string)$text) as $raw) {
			$line = trim($raw);
			if ($line === '' || $line[0] === ';') {
				continue;
			}
			if (preg_match('/^\[([A-Za-z0-9_.-]+)\]/', $line, $m)) {
				$context = $m[1];
				$exten = null;
				continue;
			}
			if ($context === null) {
				continue;
			}
			if (preg_match('/^include\s*=>\s*([A-Za-z0-9_.-]+)/', $line, $m)) {
				$ext->addInclude($context, $m[1]);
				continue;
			}
			if (preg_match('/^exten\s*=>\s*([^,]+),\s*([^,]+),(.*)$/', $line, $m)) {
				$exten = trim($m[1]);
				$priority = trim($m[2]);
				$app = trim($m[3]);
			} elseif (preg_match('/^same\s*=>\s*([^,]+),(.*)$/', $line, $m) && $exten !== null) {
				$priority = trim($m[1]);
				$app = trim($m[2]);
			} else {
				continue;
			}
			$label = preg_match('/\(([A-Za-z0-9_-]+)\)$/', $priority, $lm) ? $lm[1] : '';
			$ext->add($context, $exten, $label, new \extension($app));
			$added++;
		}
		return $added;
	}

	private function notify($id, $title, $text) {
		$notifications = $this->bmo('Notifications');
		if ($notifications !== null) {
			$notifications->add_warning(self::RAWNAME, $id, $title, $text, '', true, true);
		}
	}

	private function clearNotice($id) {
		$notifications = $this->bmo('Notifications');
		if ($notifications !== null) {
			$notifications->delete(self::RAWNAME, $id);
		}
	}

	// --- AJAX -----------------------------------------------------------------------------------------

	public function ajaxRequest($req, &$setting) {
		return in_array($req, self::AJAX_COMMANDS, true);
	}

	public function ajaxHandler() {
		$command = isset($_REQUEST['command']) ? (string)$_REQUEST['command'] : '';
		$isPost = isset($_SERVER['REQUEST_METHOD']) && strtoupper($_SERVER['REQUEST_METHOD']) === 'POST';
		try {
			switch ($command) {
				case 'requests':
					$status = isset($_REQUEST['status']) ? (string)$_REQUEST['status'] : '';
					$queue = isset($_REQUEST['queue']) ? (string)$_REQUEST['queue'] : '';
					return array('status' => true, 'requests' => $this->listRequests($status, $queue));
				case 'stats':
					return array('status' => true, 'stats' => $this->stats());
				case 'queues':
					return array('status' => true, 'queues' => array_values($this->settings()));
				case 'cancel':
				case 'retry':
				case 'savequeue':
					if (!$isPost) {
						return array('status' => false, 'message' => self::t('Use POST for changes.'));
					}
					return $command === 'savequeue' ? $this->saveQueue($_POST) : $this->changeRequest($command, isset($_POST['id']) ? $_POST['id'] : '');
			}
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		return array('status' => false, 'message' => self::t('Unknown command.'));
	}
}
