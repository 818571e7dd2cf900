<?php
// FreePBX's backup module calls this for the queuecallback module: the callback settings and requests, the JSON
// text `freepbx-callback backup --json` prints ({"version": 1, "queues": [...], "requests": [...]}), go into the
// module's configs in the backup file.
namespace FreePBX\modules\Queuecallback;

class Backup extends \FreePBX\modules\Backup\BackupBase {
	public function runBackup($id, $transaction) {
		// The CLI first: when it fails, the backup module records the error and this module adds nothing.
		$data = $this->FreePBX->Queuecallback->backupData();
		$this->addDependency('queues');
		$this->addConfigs(array('freepbx-callback' => $data));
	}
}
