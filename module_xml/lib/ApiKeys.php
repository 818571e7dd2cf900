<?php
// The HTTP API's client keys through the CLI: `apikey list --all`, `apikey add`, `apikey revoke`.
// What the admin typed travels as `--option=value` or after `--`, so it is never read as another option;
// the CLI checks every value and its refusal is the message.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class ApiKeys {
	/** @var CliRunner */
	private $cli;

	public function __construct(CliRunner $cli) {
		$this->cli = $cli;
	}

	/** Every key, revoked ones too, as `apikey list --all --json` prints them (never a token). */
	public function all() {
		return (array)$this->cli->json(array('apikey', 'list', '--all'));
	}

	/**
	 * `apikey add NAME [--queue Q]... [--per-minute N] [--per-number-hour N]` from the page's form fields
	 * (name, queues[], per_minute, per_number_hour; an empty limit leaves the CLI's default).
	 * Returns array('status' => bool, 'message' => string, 'key' => array, 'token' => string): the token
	 * only here, once.
	 */
	public function add(array $post) {
		$name = isset($post['name']) ? trim((string)$post['name']) : '';
		if ($name === '') {
			return array('status' => false, 'message' => Module::t('A key needs a name.'));
		}
		$args = array('apikey', 'add');
		$queues = isset($post['queues']) ? (array)$post['queues'] : array();
		foreach ($queues as $queue) {
			if (is_string($queue) && trim($queue) !== '') {
				$args[] = '--queue=' . trim($queue);
			}
		}
		foreach (array('per_minute' => '--per-minute=', 'per_number_hour' => '--per-number-hour=') as $field => $option) {
			$value = isset($post[$field]) && is_string($post[$field]) ? trim($post[$field]) : '';
			if ($value !== '') {
				$args[] = $option . $value;
			}
		}
		$args[] = '--';
		$args[] = $name;
		try {
			$key = $this->cli->json($args);
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		if (!is_array($key) || !isset($key['token'], $key['name'])) {
			return array('status' => false, 'message' => Module::t('freepbx-callback printed no key.'));
		}
		$token = (string)$key['token'];
		unset($key['token']);
		return array(
			'status' => true,
			'message' => sprintf(Module::t('Key %s created. Copy its token now: it is shown only once.'), $key['name']),
			'key' => $key,
			'token' => $token,
		);
	}

	/** `apikey revoke NAME`: its token stops working at once. */
	public function revoke($name) {
		try {
			$key = $this->cli->json(array('apikey', 'revoke', '--', trim((string)$name)));
		} catch (CliError $e) {
			return array('status' => false, 'message' => $e->getMessage());
		}
		return array('status' => true, 'message' => sprintf(Module::t('Key %s revoked.'), $key['name']), 'key' => $key);
	}
}
