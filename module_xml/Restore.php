<?php
// FreePBX's backup module calls this when it restores the queuecallback module (after reinstalling it, so the
// tables exist and are empty): the backed-up data goes back through `freepbx-callback restore FILE`.
namespace FreePBX\modules\Queuecallback;

class Restore extends \FreePBX\modules\Backup\RestoreBase {
	public function runRestore() {
		$configs = $this->getConfigs();
		if (!isset($configs['freepbx-callback']) || !is_string($configs['freepbx-callback']) || $configs['freepbx-callback'] === '') {
			$this->log(_('This backup holds no Queue Callback data.'), 'WARNING');
			return;
		}
		$said = $this->FreePBX->Queuecallback->restoreData($configs['freepbx-callback']);
		if ($said !== '') {
			$this->log($said);
		}
	}
}
