<?php
// Callback requests and statistics through the CLI: `request list|cancel|retry`, `stats`.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Requests {
	/** Rows the page shows at most (the CLI's own limit is larger). */
	const PAGE_ROWS = 500;

	/** @var CliRunner */
	private $cli;

	public function __construct(CliRunner $cli) {
		$this->cli = $cli;
	}

	/** Newest first; $status and $queue go to the CLI as typed (it refuses what it does not know). */
	public function listRequests($status = '', $queue = '', $limit = self::PAGE_ROWS) {
		$args = array('request', 'list', '--limit=' . (int)$limit);
		if ($status !== '' && $status !== null) {
			$args[] = '--status=' . $status;
		}
		if ($queue !== '' && $queue !== null) {
			$args[] = '--queue=' . $queue;
		}
		return (array)$this->cli->json($args);
	}

	/** The statuses a request can have, as `request list --status` takes them. */
	public function statuses() {
		return $this->cli->choices(array('request', 'list'), '--status');
	}

	/** `request cancel ID` or `request retry ID` ("call again"); the CLI's refusal is the message. */
	public function change($verb, $id) {
		$verb = $verb === 'cancel' ? 'cancel' : 'retry';
		try {
			$row = $this->cli->json(array('request', $verb, '--', trim((string)$id)));
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		$text = $verb === 'cancel' ? Module::t('Request %s cancelled.') : Module::t('Request %s will be called again.');
		return array('status' => true, 'message' => sprintf($text, $row['id']), 'request' => $row);
	}

	/**
	 * `request reschedule ID --at TIME`: call a pending request back not before TIME, typed in UTC as the
	 * page shows times ("2026-12-02 10:00"); the CLI's refusal is the message.
	 */
	public function reschedule($id, $at) {
		$at = trim((string)$at);
		if ($at !== '' && !preg_match('/(Z|[+-]\d\d:?\d\d)$/', $at)) {
			$at .= 'Z';
		}
		try {
			$row = $this->cli->json(array('request', 'reschedule', '--at=' . $at, '--', trim((string)$id)));
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		$due = str_replace(array('T', 'Z'), array(' ', ''), (string)$row['next_attempt_at']);
		return array('status' => true, 'message' => sprintf(Module::t('Request %s will be called at %s UTC.'), $row['id'], $due), 'request' => $row);
	}

	public function stats() {
		return $this->cli->json(array('stats'));
	}

	/** Whether a request (a row of `request list --json`) is still open: it has no closing time. */
	public static function isOpen(array $request) {
		return !isset($request['closed_at']) || $request['closed_at'] === null || $request['closed_at'] === '';
	}
}
