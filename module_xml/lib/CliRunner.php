<?php
// Runs the freepbx-callback command line: every argument travels as its own argv element (proc_open with
// an array, no shell), stdout/stderr are captured, a timeout stops a stuck process.
namespace FreePBX\modules\Queuecallback;

require_once __DIR__ . '/Process.php';
require_once __DIR__ . '/Runtime.php';

class CliError extends \RuntimeException {
	/** @var int exit status of the command (-1: it could not be started or timed out) */
	public $exitCode;
	/** @var string the command's one-line error (without the "error: " prefix) */
	public $detail;

	public function __construct($message, $exitCode, $detail = '') {
		parent::__construct($message);
		$this->exitCode = $exitCode;
		$this->detail = $detail;
	}
}

class CliRunner {
	// Exit statuses of freepbx-callback (README "Exit status").
	const OK = 0;
	const INVALID = 1;
	const CONFIG = 2;
	const DB_DOWN = 3;
	const DUPLICATE = 4;

	/** Where else the CLI may be, after the runtime lib/Runtime.php builds (see candidates()). */
	const LINKED_PATH = '/usr/local/bin/freepbx-callback';
	const SYSTEM_PATH = '/usr/bin/freepbx-callback';

	/** @var string[] the command and any fixed leading arguments */
	private $command;
	/** @var int seconds */
	private $timeout;
	/** @var array<string, string|null> --help output by command */
	private $helpCache = array();

	/**
	 * @param string|null $path explicit path; else $QCB_CLI, else the first of candidates($varlib) that exists
	 * @param string|null $varlib FreePBX's ASTVARLIBDIR (default /var/lib/asterisk)
	 */
	public function __construct($path = null, $timeout = 60, $varlib = null) {
		$this->command = array(self::locate($path, $varlib));
		$this->timeout = $timeout;
	}

	/**
	 * Where the CLI may be, best first: the runtime the module's install built (its `current` link under
	 * ASTVARLIBDIR), the link packaging/install.sh makes, the runtime folders themselves, a system-wide pip.
	 */
	public static function candidates($varlib = null) {
		$varlib = is_string($varlib) && $varlib !== '' ? $varlib : Runtime::DEFAULT_VARLIB;
		return array(
			Runtime::pointer($varlib) . '/bin/freepbx-callback',
			self::LINKED_PATH,
			Runtime::DEFAULT_PREFIX . '/venv/bin/freepbx-callback',
			Runtime::baseDir($varlib) . '/venv/bin/freepbx-callback',
			self::SYSTEM_PATH,
		);
	}

	public static function locate($path = null, $varlib = null) {
		if (is_string($path) && $path !== '') {
			return $path;
		}
		$env = getenv('QCB_CLI');
		if (is_string($env) && $env !== '') {
			return $env;
		}
		foreach (self::candidates($varlib) as $candidate) {
			if (is_file($candidate) && is_executable($candidate)) {
				return $candidate;
			}
		}
		return 'freepbx-callback';
	}

	public function path() {
		return $this->command[0];
	}

	/** True when the command exists and answers --version. */
	public function available() {
		$path = $this->path();
		if (strpos($path, '/') !== false && !(is_file($path) && is_executable($path))) {
			return false;
		}
		try {
			$result = $this->run(array('--version'));
		} catch (CliError $e) {
			return false;
		}
		return $result['exit'] === 0;
	}

	/** Whether the CLI knows a (sub)command, e.g. array('dialplan'). */
	public function has(array $command) {
		return $this->help($command) !== null;
	}

	/** The --help text of a (sub)command, or null when the CLI does not know it. */
	public function help(array $command) {
		$key = implode(' ', $command);
		if (!array_key_exists($key, $this->helpCache)) {
			try {
				$result = $this->run(array_merge($command, array('--help')));
				$this->helpCache[$key] = $result['exit'] === 0 ? $result['stdout'] : null;
			} catch (CliError $e) {
				$this->helpCache[$key] = null;
			}
		}
		return $this->helpCache[$key];
	}

	/**
	 * The values an option accepts, as the CLI's own --help lists them (`--mode [agent-first|customer-first]`),
	 * so the page offers exactly what the CLI takes. Empty when the option has no fixed choices.
	 */
	public function choices(array $command, $option) {
		$help = $this->help($command);
		if ($help === null || !preg_match('/^\s*' . preg_quote($option, '/') . '\s+\[([^\]\s]+)\]/m', $help, $m)) {
			return array();
		}
		return explode('|', $m[1]);
	}

	/**
	 * Run the CLI with $args; returns array('exit' => int, 'stdout' => string, 'stderr' => string).
	 * @throws CliError when the process cannot start or runs past the timeout
	 */
	public function run(array $args) {
		foreach ($args as $arg) {
			if (!is_string($arg) && !is_int($arg)) {
				throw new CliError('invalid CLI argument', -1);
			}
		}
		$argv = array_merge($this->command, array_map('strval', $args));
		$result = Process::run($argv, null, $this->timeout);
		if (!$result['started']) {
			throw new CliError(sprintf('cannot run %s', $this->path()), -1);
		}
		if ($result['timed_out']) {
			throw new CliError(sprintf('%s did not finish within %d s', $this->path(), $this->timeout), -1);
		}
		return array('exit' => $result['exit'], 'stdout' => $result['stdout'], 'stderr' => $result['stderr']);
	}

	/**
	 * Run a command that prints JSON; returns the decoded value.
	 * `--json` goes before a `--` in $args (everything after `--` is an argument, never an option).
	 * @throws CliError with the CLI's own message when it fails
	 */
	public function json(array $args) {
		$result = $this->run(self::withJson($args));
		if ($result['exit'] !== 0) {
			throw $this->failure($result);
		}
		$data = json_decode($result['stdout'], true);
		if ($data === null && trim($result['stdout']) !== 'null') {
			throw new CliError('freepbx-callback printed no JSON', -1);
		}
		return $data;
	}

	/**
	 * Run a command that prints a JSON report whatever its exit status (`doctor` exits 1 when a check
	 * fails); returns array('exit' => int, 'data' => decoded JSON).
	 * @throws CliError when it printed no JSON
	 */
	public function report(array $args) {
		$result = $this->run(self::withJson($args));
		$data = json_decode($result['stdout'], true);
		if (!is_array($data)) {
			throw $result['exit'] !== 0 ? $this->failure($result) : new CliError('freepbx-callback printed no JSON', -1);
		}
		return array('exit' => $result['exit'], 'data' => $data);
	}

	/** Run a command for its exit status; throws with the CLI's message unless it exits 0. */
	public function check(array $args) {
		$result = $this->run($args);
		if ($result['exit'] !== 0) {
			throw $this->failure($result);
		}
		return $result;
	}

	private static function withJson(array $args) {
		$end = array_search('--', $args, true);
		if ($end === false) {
			$args[] = '--json';
		} else {
			array_splice($args, $end, 0, array('--json'));
		}
		return $args;
	}

	private function failure(array $result) {
		$detail = self::errorLine($result['stderr']);
		if ($detail !== '') {
			return new CliError($detail, $result['exit'], $detail);
		}
		// 126/127: the command itself could not be run (what a shell would report, but there is no shell).
		$message = in_array($result['exit'], array(126, 127), true)
			? sprintf('cannot run %s (not found or not executable)', $this->path())
			: sprintf('freepbx-callback exited with %d', $result['exit']);
		return new CliError($message, $result['exit'], '');
	}

	/**
	 * The CLI's error line without its prefix: `error: ...` (its own errors) or `Error: ...` (a refused
	 * option or argument); the last one wins; else the first line it printed.
	 */
	public static function errorLine($stderr) {
		$found = '';
		$first = '';
		foreach (preg_split('/\r?\n/', (string)$stderr) as $line) {
			if (preg_match('/^(?:error|Error): (.*)$/', $line, $m)) {
				$found = trim($m[1]);
			} elseif ($first === '' && trim($line) !== '') {
				$first = trim($line);
			}
		}
		return $found !== '' ? $found : $first;
	}
}
