<?php
// Stand-ins for the FreePBX classes that a module's Backup.php, Restore.php and Job class extend or implement:
// modules/backup BackupBase.php / RestoreBase.php (over Models/ModelBase.php, Models/Backup.php,
// Models/Restore.php) and libraries/BMO/Job/Job.php. Only the members the module uses.

namespace FreePBX\modules\Backup {
	class ModelBase {
		protected $FreePBX;
		protected $data = array('version' => null, 'module' => null, 'configs' => array(), 'dependencies' => array(), 'files' => array(), 'dirs' => array());
		/** @var array[] what log() received: array(message, level) */
		public $logged = array();

		public function __construct($freepbx, $modData) {
			$this->FreePBX = $freepbx;
			$this->data = array_merge($this->data, $modData);
		}

		public function getConfigs($options = array()) {
			return $this->data['configs'];
		}

		public function getDependencies($options = array()) {
			return $this->data['dependencies'];
		}

		public function getData() {
			return $this->data;
		}

		protected function log($message = '', $level = 'INFO') {
			$this->logged[] = array($message, $level);
		}
	}

	/** Models/Backup.php: final __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback). */
	class BackupBase extends ModelBase {
		private $modified = false;

		final public function __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback) {
			parent::__construct($freepbx, $modData);
		}

		public function addConfigs($settings) {
			if (empty($settings)) {
				return;
			}
			$this->modified = true;
			$this->data['configs'] = $settings;
		}

		public function addDependency($dependency) {
			$this->modified = true;
			$this->data['dependencies'][] = $dependency;
		}

		public function getModified() {
			return $this->modified;
		}
	}

	/** Models/Restore.php: final __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $backupTmpDir, $defaultFallback). */
	class RestoreBase extends ModelBase {
		final public function __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $backupTmpDir, $defaultFallback) {
			parent::__construct($freepbx, $modData);
		}
	}
}

namespace FreePBX\Job {
	/** libraries/BMO/Job/Job.php (its real signature types $input/$output with Symfony Console interfaces). */
	interface TaskInterface {
		public static function run($input, $output);
	}
}
