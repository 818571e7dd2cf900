<?php
// FreePBX's queue form: our "Callback" tab (module.xml <hooks>, Queues::hookTabs) and what happens after the
// queues module handled the form (doConfigPageInit('queues') through myConfigPageInits): store the tab's
// switches on add/edit, and forget the queue's callback settings when the queue is deleted.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class QueueTab {
	/** @var Settings */
	private $settings;
	/** @var Queues */
	private $queues;
	/** @var Notices */
	private $notices;

	public function __construct(Settings $settings, Queues $queues, Notices $notices) {
		$this->settings = $settings;
		$this->queues = $queues;
		$this->notices = $notices;
	}

	/** The tab: array(array('rawname', 'title', 'content')) as Queues::hookTabs() takes it. */
	public function render(array $request) {
		$queue = isset($request['extdisplay']) ? (string)$request['extdisplay'] : '';
		$settings = array('enabled' => false);
		$error = '';
		if ($queue !== '') {
			try {
				$settings = $this->settings->get($queue);
			} catch (CliError $e) {
				$error = $e->getMessage();
			}
		}
		$conflict = $queue !== '' ? $this->queues->conflict($queue) : '';
		$content = load_view(dirname(__DIR__) . '/views/queues_tab.php', array(
			'queue' => $queue, 'settings' => $settings, 'error' => $error, 'conflict' => $conflict,
		));
		return array(array('rawname' => Module::RAWNAME, 'title' => Module::t('Callback'), 'content' => $content));
	}

	/**
	 * Runs after the queues module handled its form. `action` is add, edit or delete, the queue is
	 * `account`. An edit is the queues module's own delete + add of the same queue: it arrives here as
	 * action=edit and keeps our settings; only action=delete forgets them, and only once the queue is gone.
	 * Returns null when there was nothing to do, else array('status' => bool[, 'message']).
	 */
	public function pageInit(array $request) {
		$action = isset($request['action']) ? (string)$request['action'] : '';
		$queue = isset($request['account']) ? trim((string)$request['account']) : '';
		if ($queue === '' || !in_array($action, array('add', 'edit', 'delete'), true)) {
			return null;
		}
		$this->queues->refresh();
		if ($action === 'delete') {
			return $this->queues->exists($queue) ? null : $this->forget($queue);
		}
		// Another form; or an add the queues module refused (the number is taken: it then leaves extdisplay
		// empty, where a successful add sets it to the new queue): nothing to attach our switches to.
		$added = $action !== 'add' || (isset($request['extdisplay']) && (string)$request['extdisplay'] === $queue);
		if (!isset($request['qcb_present']) || !$added || !$this->queues->exists($queue)) {
			return null;
		}
		$switches = array();
		foreach (array('enabled' => 'qcb_enabled', 'notify_agents' => 'qcb_notify_agents', 'announce_position' => 'qcb_announce_position') as $field => $name) {
			if (isset($request[$name]) && $request[$name] !== '') {
				$switches[$field] = Settings::truthy($request[$name]);
			}
		}
		try {
			if (!$this->worthStoring($queue, $switches)) {
				return null;
			}
			$this->settings->setSwitches($queue, $switches);
		} catch (CliError $e) {
			$this->notices->warning('queue-' . $queue, sprintf(Module::t('Queue Callback: queue %s not saved'), $queue), sprintf(Module::t('The callback settings of queue %1$s were not saved: %2$s'), $queue, $e->getMessage()));
			return array('status' => false, 'message' => $e->getMessage());
		}
		$this->notices->clear('queue-' . $queue);
		return array('status' => true);
	}

	/** A queue without callback settings that stays off gets none (no row for every queue ever saved). */
	private function worthStoring($queue, array $switches) {
		if (!$switches) {
			return false;
		}
		if (!empty($switches['enabled'])) {
			return true;
		}
		$current = $this->settings->get($queue);
		return !empty($current['configured']);
	}

	private function forget($queue) {
		try {
			$this->settings->forget($queue);
		} catch (CliError $e) {
			$this->notices->warning('queue-' . $queue, sprintf(Module::t('Queue Callback: queue %s not forgotten'), $queue), sprintf(Module::t('Queue %1$s was deleted, but its callback settings and open requests could not be removed: %2$s. Run: freepbx-callback queue delete %1$s'), $queue, $e->getMessage()));
			return array('status' => false, 'message' => $e->getMessage());
		}
		$this->notices->clear('queue-' . $queue);
		return array('status' => true);
	}
}
