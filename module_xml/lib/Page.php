<?php
// The module's own page (Applications → Queue Callback): health, queues with their callback settings,
// the requests table (cancel, call again), statistics per queue and day, the HTTP API's keys (add, revoke)
// and the per-queue settings form. Changes are POSTs handled in
// doConfigPageInit (FreePBX runs it before the page); the page renders views/main.php or views/form.php.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Page {
	/** @var string[] messages of the last page action, shown above the page */
	public $messages = array();
	/** @var string[] errors of the last page action */
	public $errors = array();
	/** @var string|null the token of the API key the last action added: shown on that page only */
	public $token = null;

	/** @var Module */
	private $module;

	public function __construct(Module $module) {
		$this->module = $module;
	}

	/** doConfigPageInit('queuecallback'): save a queue's settings, cancel or retry a request. POST only. */
	public function init(array $request, array $post, $method) {
		$action = isset($request['action']) ? (string)$request['action'] : '';
		if (strtoupper((string)$method) !== 'POST' || $action === '') {
			return;
		}
		switch ($action) {
			case 'save':
				$result = $this->module->queueSettings()->save($post);
				break;
			case 'cancel':
			case 'retry':
				$result = $this->module->requests()->change($action, isset($post['id']) ? $post['id'] : '');
				break;
			case 'reschedule':
				$result = $this->module->requests()->reschedule(isset($post['id']) ? $post['id'] : '', isset($post['at']) ? $post['at'] : '');
				break;
			case 'apikey_add':
				$result = $this->module->apiKeys()->add($post);
				$this->token = $result['status'] ? $result['token'] : null;
				break;
			case 'apikey_revoke':
				$result = $this->module->apiKeys()->revoke(isset($post['name']) ? $post['name'] : '');
				break;
			default:
				$result = array('status' => false, 'message' => Module::t('Unknown action.'));
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

	public function show(array $request, array $post) {
		$view = isset($request['view']) ? (string)$request['view'] : '';
		$vars = array('messages' => $this->messages, 'errors' => $this->errors, 'token' => $this->token);
		if ($view === 'form') {
			$queue = isset($request['queue']) ? (string)$request['queue'] : '';
			$html = $this->form($queue, $post, $vars);
			if ($html !== null) {
				return $html;
			}
		}
		return $this->overview($request, $vars);
	}

	/** The settings form of one queue, or null (with an error in $vars) when there is no such queue. */
	private function form($queue, array $post, array &$vars) {
		$queues = $this->module->queues();
		try {
			$current = $this->module->queueSettings()->get($queue);
		} catch (CliError $e) {
			$vars['errors'][] = sprintf(Module::t('freepbx-callback: %s'), $e->getMessage());
			return null;
		}
		if (!$queues->exists($queue) && empty($current['configured'])) {
			$vars['errors'][] = sprintf(Module::t('There is no queue %s.'), $queue);
			return null;
		}
		if ($this->errors && isset($post['queue']) && (string)$post['queue'] === $queue) {
			$current = array_merge($current, self::posted($post));
		}
		$all = $queues->all();
		$vars['queue'] = $queue;
		$vars['settings'] = $current;
		$vars['name'] = isset($all[$queue]) ? $all[$queue] : null;
		$vars['conflict'] = isset($all[$queue]) ? $queues->conflict($queue) : '';
		$vars['choices'] = $this->module->queueSettings()->choices($current);
		$vars['recordings'] = $this->module->queueSettings()->recordings();
		$vars['timegroups'] = $this->module->queueSettings()->timeGroups();
		return load_view(dirname(__DIR__) . '/views/form.php', $vars);
	}

	private function overview(array $request, array $vars) {
		$queues = $this->module->queues();
		$requests = $this->module->requests();
		$vars['health'] = $this->module->health()->check();
		$vars['queues'] = $queues->all();
		$vars['conflicts'] = array();
		foreach ($vars['queues'] as $num => $name) {
			$vars['conflicts'][$num] = $queues->conflict($num);
		}
		$vars['status'] = isset($request['status']) ? (string)$request['status'] : '';
		$vars['statuses'] = $requests->statuses();
		$vars['settings'] = array();
		$vars['requests'] = array();
		$vars['stats'] = null;
		try {
			$vars['settings'] = $this->module->queueSettings()->all();
			$vars['requests'] = $requests->listRequests($vars['status']);
			$vars['stats'] = $requests->stats();
		} catch (CliError $e) {
			$vars['errors'][] = sprintf(Module::t('freepbx-callback: %s'), $e->getMessage());
		}
		$vars['reports'] = StatsChart::byQueue($vars['stats'] && isset($vars['stats']['by_queue_and_day']) ? (array)$vars['stats']['by_queue_and_day'] : array());
		$vars['notes'] = $vars['stats'] && isset($vars['stats']['notes']) ? (array)$vars['stats']['notes'] : array();
		$vars['apikeys'] = null;
		try {
			$vars['apikeys'] = $this->module->apiKeys()->all();
		} catch (CliError $e) {
			$vars['errors'][] = sprintf(Module::t('freepbx-callback: %s'), $e->getMessage());
		}
		return load_view(dirname(__DIR__) . '/views/main.php', $vars);
	}

	/** What the admin typed, to show it again next to the errors. */
	private static function posted(array $in) {
		$out = array();
		foreach (array('did', 'attempts', 'retry_interval', 'window', 'offer_every', 'mode', 'language', 'max_pending', 'timezone', 'timegroup') as $key) {
			if (isset($in[$key])) {
				$out[$key] = (string)$in[$key];
			}
		}
		foreach (array('enabled', 'notify_agents', 'offer_times', 'announce_position', 'agent_accept') as $key) {
			if (isset($in[$key])) {
				$out[$key] = Settings::truthy($in[$key]);
			}
		}
		foreach (array('block_patterns', 'allow_patterns') as $key) {
			if (isset($in[$key])) {
				$out[$key] = preg_split('/[\s,]+/', (string)$in[$key], -1, PREG_SPLIT_NO_EMPTY);
			}
		}
		if (isset($in['hours'])) {
			$out['hours'] = preg_split('/[\r\n]+/', (string)$in['hours'], -1, PREG_SPLIT_NO_EMPTY);
		}
		return $out;
	}

	public static function actionBar(array $request) {
		if (!isset($request['display']) || $request['display'] !== Module::RAWNAME) {
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
}
