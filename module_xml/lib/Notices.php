<?php
// The module's entries in FreePBX's notification area (BMO Notifications): raised while something is wrong,
// deleted once it is fine again.
namespace FreePBX\modules\Queuecallback;

class Notices {
	const MODULE = 'queuecallback';

	/** @var object|null FreePBX's Notifications object */
	private $notifications;

	public function __construct($notifications) {
		$this->notifications = $notifications;
	}

	public function warning($id, $title, $text, $link = '') {
		if ($this->notifications !== null) {
			$this->notifications->add_warning(self::MODULE, $id, $title, $text, $link, true, true);
		}
	}

	public function critical($id, $title, $text, $link = '') {
		if ($this->notifications !== null) {
			$this->notifications->add_critical(self::MODULE, $id, $title, $text, $link, true, false);
		}
	}

	public function clear($id) {
		if ($this->notifications !== null) {
			$this->notifications->delete(self::MODULE, $id);
		}
	}
}
