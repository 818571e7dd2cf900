<?php
// FreePBX's backup module calls this for the queuecallback module: the callback settings and requests, as
// `freepbx-callback backup --json` prints them ({"version": 1, "queues": [...], "requests": [...]}), go into the
// module's configs in the backup file.
namespace FreePBX\modules\Queuecallback;

class Backup extends \FreePBX\modules\Backup\BackupBase {
	public function runBackup($id, $transaction) {
		$this->addDependency('queues');
		$this->addConfigs(array('freepbx-callback' => $this->FreePBX->Queuecallback->backupData()));
	}
}
