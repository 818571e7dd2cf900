<?php
// A stand-in for the part of FreePBX's API that the queuecallback module calls, and nothing more
// (the list with FreePBX file:line references is FREEPBX_API.md beside this file).
//
// Environment: QCB_DSN      mysql://user:pass@host:port/db (the test database, also read by the CLI)
//              QCB_HARNESS_DIR  a scratch folder: agi-bin/, sounds/ and state.json (Job, Cron, notices,
//                               need_reload, recordings) live there so state survives between requests
//              QCB_CLI      the freepbx-callback command the module runs
// Behaviour follows FreePBX 17 where the module depends on it; everything else is left out on purpose.

if (!defined('FREEPBX_IS_AUTH')) {
	define('FREEPBX_IS_AUTH', true);
}
define('QCB_MODULE_DIR', realpath(__DIR__ . '/../../../module_xml'));

interface BMO {
	public function install();
	public function uninstall();
}

/** A JSON file that keeps the harness's FreePBX state (jobs, crontab, notifications, need_reload). */
class HarnessState {
	public static function dir() {
		$dir = getenv('QCB_HARNESS_DIR');
		if (!$dir) {
			$dir = sys_get_temp_dir() . '/qcb-harness-' . getmypid();
		}
		if (!is_dir($dir)) {
			mkdir($dir, 0777, true);
		}
		return $dir;
	}

	public static function load() {
		$file = self::dir() . '/state.json';
		$data = is_file($file) ? json_decode(file_get_contents($file), true) : null;
		return is_array($data) ? $data : array();
	}

	public static function get($key, $default = null) {
		$data = self::load();
		return array_key_exists($key, $data) ? $data[$key] : $default;
	}

	public static function set($key, $value) {
		$data = self::load();
		$data[$key] = $value;
		file_put_contents(self::dir() . '/state.json', json_encode($data, JSON_PRETTY_PRINT), LOCK_EX);
	}

	public static function reset() {
		@unlink(self::dir() . '/state.json');
	}
}

/** FreePBX\Database: a PDO with ERRMODE_EXCEPTION (BMO/Database.class.php). */
class HarnessDatabase extends PDO {
	public function __construct($url) {
		$p = parse_url($url);
		if (!$p || !isset($p['host'])) {
			throw new Exception('QCB_DSN is not a mysql:// URL');
		}
		$dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $p['host'], isset($p['port']) ? $p['port'] : 3306, ltrim($p['path'], '/'));
		parent::__construct($dsn, urldecode($p['user']), isset($p['pass']) ? urldecode($p['pass']) : '');
		$this->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
	}

	public function getOne($sql) {
		$value = $this->query($sql)->fetchColumn();
		return !empty($value) ? $value : false;
	}

	public function sql($sql, $type = 'query', $fetchmode = PDO::FETCH_BOTH) {
		switch ($type) {
			case 'getAll': return $this->query($sql)->fetchAll($fetchmode);
			case 'getOne': return $this->getOne($sql);
			case 'getRow': return $this->query($sql)->fetch($fetchmode);
			default: return $this->query($sql);
		}
	}
}

/** $this->FreePBX->Config (BMO/Config.class.php get()). */
class HarnessConfig {
	public function get($key) {
		$dir = HarnessState::dir();
		$values = array(
			'ASTAGIDIR' => $dir . '/agi-bin',
			'ASTVARLIBDIR' => $dir,
			'AMPBIN' => $dir . '/bin',
			'AMPASTERISKWEBUSER' => 'asterisk',
			'AMPWEBROOT' => $dir . '/www',
		);
		return isset($values[$key]) ? $values[$key] : false;
	}
}

/** FreePBX::Job() (BMO/Job.class.php addCommand/addClass/remove/getAll). */
class HarnessJob {
	public function addCommand($modulename, $jobname, $command, $schedule, $max_runtime = 30, $enabled = true) {
		$this->add($modulename, $jobname, $command, null, $schedule, $max_runtime, $enabled);
	}

	public function addClass($modulename, $jobname, $class, $schedule, $max_runtime = 30, $enabled = true) {
		$this->add($modulename, $jobname, null, $class, $schedule, $max_runtime, $enabled);
	}

	private function add($modulename, $jobname, $command, $class, $schedule, $max_runtime, $enabled) {
		$jobs = HarnessState::get('jobs', array());
		$jobs[$modulename . '/' . $jobname] = array(
			'modulename' => $modulename, 'jobname' => $jobname, 'command' => $command, 'class' => $class,
			'schedule' => $schedule, 'max_runtime' => $max_runtime, 'enabled' => $enabled,
		);
		HarnessState::set('jobs', $jobs);
	}

	public function remove($modulename, $jobname) {
		$jobs = HarnessState::get('jobs', array());
		unset($jobs[$modulename . '/' . $jobname]);
		HarnessState::set('jobs', $jobs);
	}

	public function getAll() {
		return array_values(HarnessState::get('jobs', array()));
	}
}

/** $this->FreePBX->Cron (BMO/Cron.class.php getAll/addLine/remove). */
class HarnessCron {
	public function getAll() {
		return HarnessState::get('cron', array());
	}

	public function addLine($line) {
		$lines = $this->getAll();
		if (!in_array(trim($line), $lines, true)) {
			$lines[] = trim($line);
		}
		HarnessState::set('cron', $lines);
	}

	public function remove($line) {
		HarnessState::set('cron', array_values(array_diff($this->getAll(), array(trim($line)))));
	}
}

/** FreePBX::Notifications() (BMO/Notifications.class.php add_critical/add_warning/delete). */
class HarnessNotifications {
	public function add_critical($module, $id, $display_text, $extended_text = '', $link = '', $reset = true, $candelete = false) {
		$this->add('critical', $module, $id, $display_text, $extended_text, $link);
	}

	public function add_warning($module, $id, $display_text, $extended_text = '', $link = '', $reset = false, $candelete = false) {
		$this->add('warning', $module, $id, $display_text, $extended_text, $link);
	}

	private function add($level, $module, $id, $display_text, $extended_text, $link) {
		$all = HarnessState::get('notifications', array());
		$all[$module . '/' . $id] = array('level' => $level, 'text' => $display_text, 'extended' => $extended_text, 'link' => $link);
		HarnessState::set('notifications', $all);
	}

	public function delete($module, $id) {
		$all = HarnessState::get('notifications', array());
		unset($all[$module . '/' . $id]);
		HarnessState::set('notifications', $all);
	}
}

/** FreePBX::Recordings() (modules/recordings Recordings.class.php getAllRecordings/getFilenameById). */
class HarnessRecordings {
	public function getAllRecordings($compound = true) {
		$rows = HarnessState::get('recordings', array());
		if (!$compound) {
			$rows = array_values(array_filter($rows, function ($r) { return strpos($r['filename'], '&') === false; }));
		}
		return $rows;
	}

	public function getFilenameById($id) {
		foreach (HarnessState::get('recordings', array()) as $row) {
			if ((string)$row['id'] === (string)$id) {
				return $row['filename'];
			}
		}
		return '';
	}
}

/** FreePBX::Queues() (modules/queues Queues.class.php listQueues: rows of array(extension, descr)). */
class HarnessQueues {
	public function listQueues($listall = false) {
		$rows = FreePBX::create()->Database->query('SELECT extension, descr FROM queues_config ORDER BY extension')->fetchAll(PDO::FETCH_NUM);
		return $rows;
	}
}

/**
 * modules/queues functions.inc/geters_seters.php queues_get($account, true): here only the part the module
 * reads, 'context': `ivr-<ivr_id>` when the queue has an IVR break-out (ivr_id neither 'none' nor ''; the IVR
 * module counts as installed), `queuecallback-<id>` for VQPlus only where vqplus_callback_get() exists; [] when
 * there is no such queue. Tests make the `queues_config` table it reads.
 */
function queues_get($account, $queues_conf_only = false) {
	$stmt = FreePBX::create()->Database->prepare('SELECT ivr_id, callback_id FROM queues_config WHERE extension = ?');
	$stmt->execute(array((string)$account));
	$config = $stmt->fetch(PDO::FETCH_ASSOC);
	if (!$config) {
		return array();
	}
	$results = array('context' => '', 'periodic-announce' => '');
	if ($config['ivr_id'] != 'none' && $config['ivr_id'] != '') {
		$results['context'] = 'ivr-' . $config['ivr_id'];
	} elseif ($config['callback_id'] != 'none' && $config['callback_id'] != '' && function_exists('vqplus_callback_get')) {
		$results['context'] = 'queuecallback-' . $config['callback_id'];
	}
	return $results;
}

/** admin/functions.inc.php engine_getinfo(): the running Asterisk (state.json asterisk_version, else 22.10.1). */
function engine_getinfo($force_read = false) {
	$version = HarnessState::get('asterisk_version', '22.10.1');
	return array('engine' => 'asterisk', 'version' => $version, 'additional' => '', 'raw' => 'Asterisk ' . $version);
}

/** The FreePBX object: FreePBX::create(), $freepbx->X / FreePBX::X() (BMO/BMO.class.php, Self_Helper). */
class FreePBX {
	private static $instance;
	public static $conf = array();
	private $objects = array();

	public static function create() {
		if (!self::$instance) {
			self::$instance = new FreePBX();
		}
		return self::$instance;
	}

	/** Start over (tests): new objects, a new database connection. */
	public static function reset() {
		self::$instance = null;
		queues_conf::reset();
	}

	public function __get($name) {
		if (!isset($this->objects[$name])) {
			$this->objects[$name] = $this->make($name);
		}
		return $this->objects[$name];
	}

	public function __isset($name) {
		return in_array($name, array('Database', 'Config', 'Job', 'Cron', 'Notifications', 'Recordings', 'Queues', 'Queuecallback'), true);
	}

	public static function __callStatic($name, $args) {
		return self::create()->$name;
	}

	/** Put a prepared object in place (tests: a Queuecallback with a stub CLI). */
	public function inject($name, $object) {
		$this->objects[$name] = $object;
	}

	private function make($name) {
		switch ($name) {
			case 'Database':
				return new HarnessDatabase(getenv('QCB_DSN'));
			case 'Config': return new HarnessConfig();
			case 'Job': return new HarnessJob();
			case 'Cron': return new HarnessCron();
			case 'Notifications': return new HarnessNotifications();
			case 'Recordings': return new HarnessRecordings();
			case 'Queues': return new HarnessQueues();
			case 'Queuecallback':
				require_once QCB_MODULE_DIR . '/Queuecallback.class.php';
				return new \FreePBX\modules\Queuecallback($this);
		}
		throw new Exception("the harness has no FreePBX object $name");
	}
}

/** BMO/DB_Helper.class.php: the module's kvstore table kvstore_FreePBX_modules_<Class>. */
class FreePBX_Helpers {
	public $FreePBX;
	public $db;

	private function kvTable() {
		$table = 'kvstore_' . str_replace('\\', '_', get_class($this));
		$this->FreePBX->Database->exec("CREATE TABLE IF NOT EXISTS `$table` (`key` CHAR(255) NOT NULL, `val` VARCHAR(4096), `type` CHAR(16), `id` CHAR(255), UNIQUE KEY `uniqueindex` (`key`(190), `id`(190)))");
		return $table;
	}

	public function getConfig($var, $id = 'noid') {
		$stmt = $this->FreePBX->Database->prepare('SELECT `val`, `type` FROM `' . $this->kvTable() . '` WHERE `key` = ? AND `id` = ?');
		$stmt->execute(array($var, $id));
		$row = $stmt->fetch(PDO::FETCH_ASSOC);
		if (!$row) {
			return false;
		}
		return $row['type'] === 'json-arr' ? json_decode($row['val'], true) : $row['val'];
	}

	public function setConfig($key, $val = false, $id = 'noid') {
		$table = $this->kvTable();
		$this->FreePBX->Database->prepare("DELETE FROM `$table` WHERE `key` = ? AND `id` = ?")->execute(array($key, $id));
		if ($val === false) {
			return;
		}
		$type = is_array($val) ? 'json-arr' : null;
		$this->FreePBX->Database->prepare("INSERT INTO `$table` (`key`, `val`, `type`, `id`) VALUES (?, ?, ?, ?)")
			->execute(array($key, is_array($val) ? json_encode($val) : $val, $type, $id));
	}

	public function __get($name) {
		return $this->FreePBX->$name;
	}
}

/** libraries/extensions.class.php: the dialplan being built during a reload. */
class extensions {
	public $_exts = array();
	public $_includes = array();

	public function add($section, $extension, $tag, $command, $basetag = false, $addpriority = false) {
		$this->_exts[$section][$extension][] = array('tag' => $tag, 'cmd' => $command);
	}

	public function addInclude($section, $incsection, $comment = '') {
		$this->_includes[$section][] = $incsection;
	}

	/** The [context] text FreePBX would write (priority 1, then n with (label)). */
	public function generateConf() {
		$out = '';
		foreach ($this->_exts as $section => $extens) {
			$out .= "[$section]\n";
			foreach (isset($this->_includes[$section]) ? $this->_includes[$section] : array() as $inc) {
				$out .= "include => $inc\n";
			}
			foreach ($extens as $exten => $lines) {
				foreach ($lines as $i => $line) {
					$pri = $i === 0 ? '1' : 'n';
					if ($line['tag'] !== '' && $line['tag'] !== false) {
						$pri .= '(' . $line['tag'] . ')';
					}
					$out .= "exten => $exten,$pri," . $line['cmd']->output() . "\n";
				}
			}
			$out .= "include => $section-custom\n\n";
		}
		return $out;
	}
}

/** libraries/extensions.class.php class extension: raw application data, printed verbatim. */
class extension {
	public $data;

	public function __construct($data = '') {
		$this->data = $data;
	}

	public function output() {
		return $this->data;
	}
}

/** modules/queues functions.inc/queue_conf.php: queues_conf singleton and addQueuesAdditional(). */
class queues_conf {
	private static $obj;
	public $_queues_additional = array();

	public static function create() {
		if (!self::$obj) {
			self::$obj = new queues_conf();
		}
		return self::$obj;
	}

	public static function reset() {
		self::$obj = null;
	}

	public function addQueuesAdditional($section, $key, $value) {
		$this->_queues_additional[$section][] = array('key' => $key, 'value' => $value);
	}
}

/** libraries/modgettext.class.php: translate in a module's text domain. */
class modgettext {
	public static function _($string, $module) {
		static $bound = array();
		if (!isset($bound[$module])) {
			bindtextdomain($module, QCB_MODULE_DIR . '/i18n');
			bind_textdomain_codeset($module, 'UTF-8');
			$bound[$module] = true;
		}
		return dgettext($module, $string);
	}
}

/** libraries/utility.functions.php needreload(). */
function needreload() {
	HarnessState::set('need_reload', true);
}

/** libraries/view.functions.php load_view(): extract $vars, include, return the output. */
function load_view($view_filename_protected, $vars = array()) {
	if (!file_exists($view_filename_protected)) {
		return false;
	}
	extract($vars);
	ob_start();
	include $view_filename_protected;
	return ob_get_clean();
}

/** libraries/utility.functions.php out(): install output (kept in $GLOBALS['harness_out'] for tests). */
function out($text) {
	$GLOBALS['harness_out'][] = $text;
}

// The module's own page and ajax.php run with the module's text domain active (config.php / ajax.php).
bindtextdomain('queuecallback', QCB_MODULE_DIR . '/i18n');
bind_textdomain_codeset('queuecallback', 'UTF-8');
textdomain('queuecallback');

require_once __DIR__ . '/backup.php';

// admin/functions.inc.php fpbx_framework_autoloader(): \FreePBX\modules\<Module>\A\B is
// modules/<module>/A/B.php (how FreePBX finds a module's Backup, Restore and Job classes).
spl_autoload_register(function ($class) {
	if (stripos($class, 'FreePBX\\modules\\Queuecallback\\') !== 0) {
		return;
	}
	$file = QCB_MODULE_DIR . '/' . str_replace('\\', '/', substr($class, strlen('FreePBX\\modules\\Queuecallback\\'))) . '.php';
	if (file_exists($file)) {
		include $file;
	}
});

// FreePBX's BMO autoloader loads modules/<raw>/<Class>.class.php on first use of FreePBX::<Class>().
require_once QCB_MODULE_DIR . '/Queuecallback.class.php';
