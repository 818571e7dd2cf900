<?php
// Per-queue callback settings, always through the CLI: `queue list|show|set|delete`. The form's values go to
// `queue set` as they were typed; the CLI checks them and its error text is what the admin sees. The CLI
// also says which values a choice accepts (its --help) and what an unset setting is (`queue show`).
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Settings {
	/** Form field => `queue set` option taking the typed value (durations may be "300", "5m"). */
	const VALUE_OPTIONS = array(
		'attempts' => '--attempts',
		'retry_interval' => '--retry-interval',
		'window' => '--window',
		'offer_every' => '--offer-every',
		'mode' => '--mode',
		'language' => '--language',
		'timezone' => '--timezone',
	);
	/** Form field => the two `queue set` switches (on, off). */
	const SWITCHES = array(
		'enabled' => array('--enable', '--disable'),
		'notify_agents' => array('--notify-agents', '--no-notify-agents'),
		'offer_times' => array('--offer-times', '--no-offer-times'),
		'announce_position' => array('--announce-position', '--no-announce-position'),
		'agent_accept' => array('--agent-accept', '--no-agent-accept'),
	);

	/** @var CliRunner */
	private $cli;
	/** @var object|null FreePBX::Recordings() */
	private $recordings;

	public function __construct(CliRunner $cli, $recordings) {
		$this->cli = $cli;
		$this->recordings = $recordings;
	}

	/** Settings of every queue that has any, keyed by queue number (`queue list --json`). */
	public function all() {
		$out = array();
		foreach ((array)$this->cli->json(array('queue', 'list')) as $row) {
			$out[(string)$row['queue']] = $row;
		}
		return $out;
	}

	/**
	 * One queue's settings (`queue show Q --json`), with 'configured' => bool. A queue the CLI has no
	 * settings for has callback off; its other values are unknown here (the CLI applies its defaults
	 * on the first save) unless the CLI prints them.
	 * @throws CliError when the CLI cannot answer at all (config, database)
	 */
	public function get($queue) {
		try {
			$shown = $this->cli->json(array('queue', 'show', '--defaults', '--', (string)$queue));
		} catch (CliError $e) {
			if ($e->exitCode !== CliRunner::INVALID) {
				throw $e;
			}
			return array('queue' => (string)$queue, 'configured' => false, 'enabled' => false);
		}
		$shown = (array)$shown;
		if (!isset($shown['configured'])) {
			$shown['configured'] = true;
		}
		return $shown;
	}

	/** The values the CLI takes for a choice field: array('mode' => [...], 'language' => [...]). */
	public function choices(array $shown = array()) {
		$out = array();
		foreach (array('mode', 'language') as $field) {
			if (isset($shown['choices'][$field]) && is_array($shown['choices'][$field])) {
				$out[$field] = array_values($shown['choices'][$field]);
			} else {
				$out[$field] = $this->cli->choices(array('queue', 'set'), self::VALUE_OPTIONS[$field]);
			}
		}
		return $out;
	}

	/**
	 * A settings form (page, AJAX) as `queue set` arguments. Returns array($argv, $errors); the only
	 * errors found here are FreePBX's own (a system recording that does not exist). An empty field is
	 * left as it is, except DID, open-requests limit and patterns, where empty means "none".
	 */
	public function args(array $in) {
		$errors = array();
		$options = array();
		foreach (self::SWITCHES as $field => $flags) {
			if (isset($in[$field]) && $in[$field] !== '') {
				$options[] = self::truthy($in[$field]) ? $flags[0] : $flags[1];
			}
		}
		if (isset($in['did'])) {
			$did = trim((string)$in['did']);
			$options[] = $did === '' ? '--no-did' : '--did=' . $did;
		}
		foreach (self::VALUE_OPTIONS as $field => $option) {
			$value = isset($in[$field]) ? trim((string)$in[$field]) : '';
			if ($value !== '') {
				$options[] = $option . '=' . $value;
			}
		}
		if (isset($in['max_pending'])) {
			$value = trim((string)$in['max_pending']);
			$options[] = $value === '' ? '--no-max-pending' : '--max-pending=' . $value;
		}
		if (isset($in['timegroup'])) {
			$group = trim((string)$in['timegroup']);
			$options[] = $group === '' ? '--no-timegroup' : '--timegroup=' . $group;
		}
		if (isset($in['hours'])) {
			$options[] = '--clear-hours';
			foreach (preg_split('/[\r\n]+/', (string)$in['hours'], -1, PREG_SPLIT_NO_EMPTY) as $rule) {
				if (trim($rule) !== '') {
					$options[] = '--hours=' . trim($rule);
				}
			}
		}
		if (isset($in['block_patterns']) || isset($in['allow_patterns'])) {
			$options[] = '--clear-patterns';
			foreach (array('block_patterns' => '--block', 'allow_patterns' => '--allow') as $field => $option) {
				$text = isset($in[$field]) ? (string)$in[$field] : '';
				foreach (preg_split('/[\s,]+/', $text, -1, PREG_SPLIT_NO_EMPTY) as $pattern) {
					$options[] = $option . '=' . $pattern;
				}
			}
		}
		if (isset($in['offer_recording'])) {
			$id = (string)$in['offer_recording'];
			if ($id === '' || $id === 'default') {
				$options[] = '--prompt=offer=';
			} else {
				$file = $this->recordingFile($id);
				if ($file === '') {
					$errors[] = Module::t('Offer prompt: that system recording does not exist.');
				} else {
					$options[] = '--prompt=offer=' . $file;
				}
			}
		}
		$queue = isset($in['queue']) ? trim((string)$in['queue']) : '';
		return array(array_merge(array('queue', 'set'), $options, array('--', $queue)), $errors);
	}

	/** Save one queue's settings from a form; the CLI's refusal comes back as the message. */
	public function save(array $in) {
		list($args, $errors) = $this->args($in);
		if ($errors) {
			return array('status' => false, 'message' => implode(' ', $errors), 'errors' => $errors);
		}
		try {
			$settings = $this->cli->json($args);
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage(), 'errors' => array($e->getMessage()));
		}
		if (function_exists('needreload')) {
			needreload();
		}
		return array(
			'status' => true,
			'message' => sprintf(Module::t('Queue %s saved. Apply Config to update the dialplan.'), $settings['queue']),
			'settings' => $settings,
		);
	}

	/** Switch callback, agent notification and the position announcement of one queue (the queue form's tab). */
	public function setSwitches($queue, array $switches) {
		$args = array('queue', 'set');
		foreach (self::SWITCHES as $field => $flags) {
			if (isset($switches[$field])) {
				$args[] = $switches[$field] ? $flags[0] : $flags[1];
			}
		}
		$args[] = '--';
		$args[] = (string)$queue;
		return $this->cli->json($args);
	}

	/**
	 * The queue was deleted in FreePBX: `queue delete Q` forgets its settings and cancels its open requests.
	 * Returns false when the CLI had nothing to forget for it.
	 * @throws CliError when the CLI failed otherwise
	 */
	public function forget($queue) {
		try {
			$this->cli->check(array('queue', 'delete', '--', (string)$queue));
		} catch (CliError $e) {
			if ($e->exitCode === CliRunner::INVALID) {
				return false;
			}
			throw $e;
		}
		return true;
	}

	/** FreePBX's Time Groups for the callback hours choice: id => description (`queue time-groups`). */
	public function timeGroups() {
		$out = array();
		try {
			foreach ((array)$this->cli->json(array('queue', 'time-groups')) as $row) {
				$out[(string)$row['id']] = (string)$row['description'];
			}
		} catch (CliError $e) {
			// No answer: the form offers its own hours only.
		}
		return $out;
	}

	/** System recordings for the prompt choice: id => array(name, file). */
	public function recordings() {
		$out = array();
		if ($this->recordings === null) {
			return $out;
		}
		try {
			foreach ((array)$this->recordings->getAllRecordings(false) as $row) {
				$out[(string)$row['id']] = array('name' => (string)$row['displayname'], 'file' => (string)$row['filename']);
			}
		} catch (\Exception $e) {
			// Recordings module missing: only the shipped prompts.
		}
		return $out;
	}

	/** A system recording's sound name; like queues' periodic-announce, the first part of a compound one. */
	public function recordingFile($id) {
		$file = '';
		if ($this->recordings !== null) {
			try {
				$file = (string)$this->recordings->getFilenameById($id);
			} catch (\Exception $e) {
				$file = '';
			}
		}
		$parts = explode('&', $file);
		return $parts[0];
	}

	public static function truthy($value) {
		return !empty($value) && $value !== '0';
	}
}
