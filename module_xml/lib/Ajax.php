<?php
// ajax.php?module=queuecallback&command=X: the request table's actions (cancel, retry), settings saves and
// read-only lists for the page's script. Changes only by POST. ajax.php loads no other module's
// functions.inc.php, so nothing here relies on them.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Ajax {
	const COMMANDS = array('requests', 'cancel', 'retry', 'savequeue', 'stats', 'queues', 'health');
	const CHANGES = array('cancel', 'retry', 'savequeue');

	/** @var Module */
	private $module;

	public function __construct(Module $module) {
		$this->module = $module;
	}

	public static function allowed($command) {
		return in_array($command, self::COMMANDS, true);
	}

	public function handle(array $request, array $post, $method) {
		$command = isset($request['command']) ? (string)$request['command'] : '';
		if (in_array($command, self::CHANGES, true) && strtoupper((string)$method) !== 'POST') {
			return array('status' => false, 'message' => Module::t('Use POST for changes.'));
		}
		try {
			switch ($command) {
				case 'requests':
					$status = isset($request['status']) ? (string)$request['status'] : '';
					$queue = isset($request['queue']) ? (string)$request['queue'] : '';
					return array('status' => true, 'requests' => $this->module->requests()->listRequests($status, $queue));
				case 'stats':
					return array('status' => true, 'stats' => $this->module->requests()->stats());
				case 'queues':
					return array('status' => true, 'queues' => array_values($this->module->queueSettings()->all()));
				case 'health':
					return array('status' => true, 'health' => $this->module->health()->check());
				case 'savequeue':
					return $this->module->queueSettings()->save($post);
				case 'cancel':
				case 'retry':
					return $this->module->requests()->change($command, isset($post['id']) ? $post['id'] : '');
			}
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		return array('status' => false, 'message' => Module::t('Unknown command.'));
	}
}
