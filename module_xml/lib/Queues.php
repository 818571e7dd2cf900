<?php
// FreePBX's queues, read through the queues module's own API: FreePBX::Queues()->listQueues() for the list
// and queues_get() for the break-out context the queues module writes into queues_additional.conf.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Queues {
	/** @var object|null FreePBX::Queues() */
	private $queues;
	/** @var array<string, string>|null number => name */
	private $list;

	public function __construct($queues) {
		$this->queues = $queues;
	}

	/** Every FreePBX queue: number => name, in FreePBX's order. */
	public function all() {
		if ($this->list === null) {
			$this->list = array();
			if ($this->queues !== null) {
				try {
					foreach ((array)$this->queues->listQueues(true) as $row) {
						$this->list[(string)$row[0]] = (string)$row[1];
					}
				} catch (\Exception $e) {
					// No queues module: the page still shows our own settings.
				}
			}
		}
		return $this->list;
	}

	public function exists($queue) {
		$all = $this->all();
		return isset($all[(string)$queue]);
	}

	/** Read the list again (after the queues module added or deleted a queue). */
	public function refresh() {
		$this->list = null;
	}

	/**
	 * Why the queue's context= is taken by another module, or '' when it is free for our break-out: the
	 * context the queues module itself writes (an IVR break-out `ivr-N`, a VQPlus callback `queuecallback-N`).
	 * queues_get() is the queues module's function (loaded on its pages and during a reload, not in ajax.php).
	 */
	public function conflict($queue) {
		if (!function_exists('queues_get')) {
			return '';
		}
		try {
			$details = queues_get((string)$queue, true);
		} catch (\Exception $e) {
			return '';
		}
		$context = is_array($details) && isset($details['context']) ? (string)$details['context'] : '';
		if ($context === '') {
			return '';
		}
		if (strpos($context, 'ivr-') === 0) {
			return sprintf(Module::t('an IVR break-out (IVR %s)'), substr($context, 4));
		}
		if (strpos($context, 'queuecallback-') === 0) {
			return sprintf(Module::t('a VQPlus callback (%s)'), substr($context, 14));
		}
		return sprintf(Module::t('the context %s'), $context);
	}
}
