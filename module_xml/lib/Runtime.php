<?php
// The Python runtime of Queue Callback: a virtualenv with the freepbx-callback package, built OFFLINE from the
// wheels that `make package` put into the module's wheels/ folder (no PyPI, no shell step for the admin).
//
// Where: /opt/freepbx-callback/venv when this user may write there (fwconsole runs as root), else
// <ASTVARLIBDIR>/freepbx-callback/venv (Module Admin in the GUI runs as the web user, asterisk). Never inside
// the module folder: `fwconsole chown` strips the execute bits there. <ASTVARLIBDIR>/freepbx-callback/current
// is a symlink to the venv in use; the CLI is <...>/current/bin/freepbx-callback (see cliCandidates()).
//
// Nothing here needs root or python3-venv: the venv is created with `python3 -m venv --without-pip` and pip
// runs from the pip wheel shipped in wheels/. Only when a compiled dependency (mysqlclient) has no wheel for
// this Python does it need a compiler and headers; then ensure() throws a RuntimeError that names the Debian
// packages and the command to run as root.
//
// From the shell (packaging/install.sh uses this):
//   php Runtime.php ensure [--wheels DIR] [--prefix DIR] [--varlib DIR] [--venv DIR] [--python PATH]
//                          [--owner USER[:GROUP]] [--path PATH] [--quiet]
//       prints the CLI path; exit 3 with the missing Debian packages on stdout when root must add them
//       (--path: the PATH for the commands it runs, as given; default $PATH plus the system folders)
//   php Runtime.php locate [--varlib DIR] [--prefix DIR]      the installed CLI, exit 1 when none
//   php Runtime.php pin-scripts --python PATH --agi-bin DIR   DIR/qcb-*.agi start PATH -S (else python3)
//       (ensure does this to the module's agi-bin/, which fwconsole reload copies into ASTAGIDIR)
namespace FreePBX\modules\Queuecallback;

require_once __DIR__ . '/Process.php';

class RuntimeError extends \RuntimeException {
	/** @var string[] Debian packages whose absence stopped the build (apt-get install them as root, then retry) */
	public $packages;

	public function __construct($message, array $packages = array(), $previous = null) {
		parent::__construct($message, 0, $previous);
		$this->packages = array_values(array_unique($packages));
	}
}

class Runtime {
	const PROJECT = 'freepbx-callback';
	const DEFAULT_PREFIX = '/opt/freepbx-callback';
	const DEFAULT_VARLIB = '/var/lib/asterisk';
	const MANIFEST = 'manifest.json';
	const MARKER = 'freepbx-callback-runtime.json';
	const MIN_PYTHON = '3.11';
	const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

	// What building a dependency from its sdist needs, by project name; 'cc' and 'python-dev' are resolved to
	// Debian packages by the interpreter at hand. markupsafe's C speed-up is optional: it builds pure without cc.
	const BUILD_NEEDS = array(
		'mysqlclient' => array('cc', 'python-dev', 'pkg-config', 'libmariadb-dev'),
		'markupsafe' => array(),
	);
	const BUILD_NEEDS_DEFAULT = array('cc', 'python-dev');

	/** @var string */
	private $wheels;
	/** @var string */
	private $prefix;
	/** @var string */
	private $varlib;
	/** @var string|null an explicit venv folder */
	private $venv;
	/** @var string|null an explicit base interpreter */
	private $python;
	/** @var string|null user[:group] that should own what a root build writes */
	private $owner;
	/** @var int seconds per pip/python step */
	private $timeout;
	/** @var callable|null receives one progress line at a time */
	private $log;
	/** @var string PATH for the child processes */
	private $path;
	/** @var array|null */
	private $manifest = null;

	/**
	 * @param string $wheelDir the module's wheels/ folder (manifest.json and the wheels)
	 * @param array $options prefix, varlib, venv, python, owner, timeout, log (callable), path (PATH)
	 */
	public function __construct($wheelDir, array $options = array()) {
		$this->wheels = rtrim((string)$wheelDir, '/');
		$this->prefix = rtrim(isset($options['prefix']) ? (string)$options['prefix'] : self::DEFAULT_PREFIX, '/');
		$this->varlib = rtrim(isset($options['varlib']) && $options['varlib'] !== '' ? (string)$options['varlib'] : self::DEFAULT_VARLIB, '/');
		$this->venv = isset($options['venv']) && $options['venv'] !== '' ? rtrim((string)$options['venv'], '/') : null;
		$this->python = isset($options['python']) && $options['python'] !== '' ? (string)$options['python'] : null;
		$this->owner = isset($options['owner']) && $options['owner'] !== '' ? (string)$options['owner'] : null;
		$this->timeout = isset($options['timeout']) ? (int)$options['timeout'] : 900;
		$this->log = isset($options['log']) && is_callable($options['log']) ? $options['log'] : null;
		$path = isset($options['path']) ? (string)$options['path'] : (string)getenv('PATH');
		if (!isset($options['path'])) {
			foreach (explode(':', self::SYSTEM_PATH) as $dir) {
				if (!in_array($dir, explode(':', $path), true)) {
					$path .= ($path === '' ? '' : ':') . $dir;
				}
			}
		}
		$this->path = $path;
	}

	/**
	 * The runtime of the module in $moduleDir, with FreePBX's settings when $freepbx is given:
	 * ASTVARLIBDIR for the fallback venv and pointer, AMPASTERISKWEBUSER/-GROUP as owner of a root build.
	 */
	public static function forModule($moduleDir, $freepbx = null, array $options = array()) {
		$config = null;
		if ($freepbx !== null) {
			try {
				$config = $freepbx->Config;
			} catch (\Throwable $e) {
				$config = null;
			}
		}
		if (is_object($config) && method_exists($config, 'get')) {
			$varlib = $config->get('ASTVARLIBDIR');
			$user = $config->get('AMPASTERISKWEBUSER');
			$group = $config->get('AMPASTERISKWEBGROUP');
			if ($varlib && !isset($options['varlib'])) {
				$options['varlib'] = $varlib;
			}
			if ($user && !isset($options['owner'])) {
				$options['owner'] = $group ? $user . ':' . $group : $user;
			}
		}
		return new self(rtrim($moduleDir, '/') . '/wheels', $options);
	}

	// --- where things are -----------------------------------------------------------------------------

	/** <varlib>/freepbx-callback: the pointer, and the venv when /opt is out of reach. */
	public static function baseDir($varlib = self::DEFAULT_VARLIB) {
		return rtrim($varlib, '/') . '/' . self::PROJECT;
	}

	/** The symlink to the venv in use. */
	public static function pointer($varlib = self::DEFAULT_VARLIB) {
		return self::baseDir($varlib) . '/current';
	}

	/** Where the CLI may be, best first: what CliRunner::locate should try after $QCB_CLI. */
	public static function cliCandidates($varlib = self::DEFAULT_VARLIB, $prefix = self::DEFAULT_PREFIX) {
		return array(
			self::pointer($varlib) . '/bin/freepbx-callback',
			rtrim($prefix, '/') . '/venv/bin/freepbx-callback',
			self::baseDir($varlib) . '/venv/bin/freepbx-callback',
		);
	}

	/** The installed CLI (first executable candidate), or null. */
	public static function locate($varlib = self::DEFAULT_VARLIB, $prefix = self::DEFAULT_PREFIX) {
		foreach (self::cliCandidates($varlib, $prefix) as $candidate) {
			if (is_file($candidate) && is_executable($candidate)) {
				return $candidate;
			}
		}
		return null;
	}

	/** The venv folders this runtime may use, preferred first. */
	public function venvCandidates() {
		if ($this->venv !== null) {
			return array($this->venv);
		}
		return array($this->prefix . '/venv', self::baseDir($this->varlib) . '/venv');
	}

	public function wheelDir() {
		return $this->wheels;
	}

	// --- the build ------------------------------------------------------------------------------------

	/** wheels/manifest.json as written by packaging/package.py. */
	public function manifest() {
		if ($this->manifest !== null) {
			return $this->manifest;
		}
		$file = $this->wheels . '/' . self::MANIFEST;
		if (!is_file($file)) {
			throw new RuntimeError(sprintf(
				'This Queue Callback package carries no Python runtime (%s is missing). Use a package built by `make package` (packaging/package.py without --no-wheel).',
				$file
			));
		}
		$data = json_decode((string)file_get_contents($file), true);
		if (!is_array($data) || empty($data['wheel']['file']) || !isset($data['requirements']) || empty($data['tools']['pip'])) {
			throw new RuntimeError(sprintf('%s is not a freepbx-callback wheel manifest.', $file));
		}
		foreach (array_merge(array($data['wheel']['file'], $data['tools']['pip']), array_column($data['requirements'], 'wheel')) as $name) {
			if ($name && !is_file($this->wheels . '/' . $name)) {
				throw new RuntimeError(sprintf('%s lists %s, which is not in %s: the package is incomplete, rebuild it.', $file, $name, $this->wheels));
			}
		}
		return $this->manifest = $data;
	}

	/**
	 * Create or update the venv from the bundled wheels; returns the path of the freepbx-callback CLI.
	 * Quick (one python start) when the venv already holds this very package.
	 * @throws RuntimeError with the command root must run, when the host lacks something
	 */
	public function ensure() {
		$cli = $this->ensureVenv();
		// Asterisk runs the agi-bin scripts with the interpreter of their first line: name the runtime's own,
		// so that each call starts one Python (the system python3 would fail the import and hand over).
		$agiBin = dirname($this->wheels) . '/agi-bin';
		if (is_dir($agiBin)) {
			$python = dirname($cli) . '/python';
			try {
				$pinned = self::pinScripts($agiBin, $python);
				if ($pinned) {
					$this->say(sprintf('agi-bin scripts run with %s: %s', $python, implode(', ', $pinned)));
				}
			} catch (RuntimeError $e) {
				$this->say($e->getMessage() . ' They hand over to the runtime at each call instead.');
			}
		}
		return $cli;
	}

	/**
	 * Puts a two-line header before every qcb-*.agi in $dir (each replaced whole, mode 0755): /bin/sh
	 * exec's "$python -S" with the script when that python is there, else python3, as the shipped script
	 * would run (it then hands over to whichever runtime it finds). Python reads the second line as a
	 * string. So each call starts one Python, and a runtime gone missing (a Python upgrade, a moved venv, an
	 * Asterisk that does not see it) costs the hand-over, never the call. -S: no site scan at each call (the
	 * script puts the runtime's site-packages on its path itself). Returns the names of the scripts changed.
	 * @throws RuntimeError when a script cannot be rewritten
	 */
	const PIN_SHELL = "#!/bin/sh\n";
	const SCRIPT_PYTHON = '/usr/bin/env python3';  // the shipped scripts' own interpreter

	public static function pinScripts($dir, $python) {
		$changed = array();
		foreach ((array)glob(rtrim($dir, '/') . '/qcb-*.agi') as $file) {
			$text = (string)file_get_contents($file);
			$body = $text;
			if (strncmp($body, self::PIN_SHELL, strlen(self::PIN_SHELL)) === 0) {  // pinned before
				$body = (string)substr($body, strlen(self::PIN_SHELL));
				$body = (string)substr($body, strcspn($body, "\n") + 1);
			}
			$pinned = self::PIN_SHELL . "''''[ -x " . escapeshellarg($python) . ' ] && exec ' . escapeshellarg($python)
				. ' -S "$0" "$@"; exec ' . self::SCRIPT_PYTHON . " \"\$0\" \"\$@\" # '''\n" . $body;
			if ($pinned === $text) {
				continue;
			}
			$tmp = $file . '.new.' . getmypid();
			if (@file_put_contents($tmp, $pinned) === false || !@chmod($tmp, 0755) || !@rename($tmp, $file)) {
				@unlink($tmp);
				throw new RuntimeError(sprintf('Cannot rewrite %s.', $file));
			}
			$changed[] = basename($file);
		}
		return $changed;
	}

	/** ensure() without the scripts: the venv, built or found up to date; the CLI path. */
	private function ensureVenv() {
		$manifest = $this->manifest();
		$python = $this->findPython($manifest);
		foreach ($this->venvCandidates() as $venv) {
			if ($this->isCurrent($venv, $manifest, $python)) {
				$this->say(sprintf('Python runtime %s %s is up to date in %s', self::PROJECT, $manifest['version'], $venv));
				return $this->publish($venv);
			}
		}
		$venv = $this->chooseTarget();
		$this->mkdirs(dirname($venv));
		$lock = fopen(dirname($venv) . '/.build.lock', 'c');
		if ($lock === false) {
			throw new RuntimeError(sprintf('Cannot write in %s.', dirname($venv)));
		}
		flock($lock, LOCK_EX);
		$old = umask(022);
		try {
			$start = microtime(true);
			$this->build($venv, $manifest, $python);
			$this->say(sprintf('Python runtime built in %s (%.1f s)', $venv, microtime(true) - $start));
		} finally {
			umask($old);
			flock($lock, LOCK_UN);
			fclose($lock);
		}
		$this->chownTree(dirname($venv));
		return $this->publish($venv);
	}

	private function build($venv, array $manifest, array $python) {
		$this->createVenv($venv, $python);
		$vpy = $venv . '/bin/python';
		$w = $this->wheels;
		$pipWheel = $w . '/' . $manifest['tools']['pip'];
		$pipVersion = self::wheelVersion($manifest['tools']['pip']);
		$have = $this->run(array($vpy, '-c', 'import importlib.metadata as m; print(m.version("pip"))'));
		if ($have['exit'] !== 0 || trim($have['stdout']) !== $pipVersion) {
			$this->say(sprintf('installing pip %s into the venv', $pipVersion));
			// pip runs from its own wheel: python3-venv (ensurepip) is not needed.
			$this->pip($vpy, array($pipWheel . '/pip', 'install', '--no-index', '--force-reinstall', '--no-deps', $pipWheel), 'pip');
		}
		$pins = array();
		$needBuild = array();
		foreach ($manifest['requirements'] as $req) {
			$pins[] = $req['name'] . '==' . $req['version'];
			if (!$this->wheelFits($req, $python)) {
				$needBuild[] = $req;
			}
		}
		$index = array('--no-index', '--find-links', $w);
		if ($pins) {
			if ($needBuild) {
				$names = array();
				foreach ($needBuild as $req) {
					if (empty($req['sdist'])) {
						throw new RuntimeError(sprintf(
							'The package carries no %s %s for Python %s on %s and no source to build one. Rebuild the package (make package) with Python %s on this platform.',
							$req['name'], $req['version'], $python['version'], $python['platform'], $python['short']
						));
					}
					$names[] = $req['name'];
				}
				$missing = $this->missingBuildPackages($needBuild, $python);
				if ($missing) {
					throw new RuntimeError(sprintf(
						'The Queue Callback package has wheels for Python %s; this host runs Python %s (%s), so %s must be compiled here, which needs the Debian packages %s. Run as root: apt-get install -y %s - then install the module again.',
						self::builtWith($manifest), $python['version'], $python['executable'], implode(', ', $names), implode(' ', $missing), implode(' ', $missing)
					), $missing);
				}
				$this->say(sprintf('building %s from source for Python %s', implode(', ', $names), $python['version']));
				$args = array_merge(array('-m', 'pip', 'install'), $index, array('--prefer-binary'), $pins);
			} else {
				$args = array_merge(array('-m', 'pip', 'install'), $index, array('--only-binary', ':all:'), $pins);
			}
			$this->say(sprintf('installing %d dependencies from %s', count($pins), $w));
			$this->pip($vpy, $args, 'the dependencies', $needBuild ? $python : null, $needBuild);
		}
		// Our own wheel last and always: a rebuilt package at the same version must replace the code.
		$own = $w . '/' . $manifest['wheel']['file'];
		$this->say(sprintf('installing %s', $manifest['wheel']['file']));
		$this->pip($vpy, array_merge(array('-m', 'pip', 'install'), $index, array('--force-reinstall', '--no-deps', $own)), self::PROJECT);
		$this->verify($venv, $manifest);
		$marker = array(
			'project' => self::PROJECT,
			'version' => $manifest['version'],
			'wheel' => $manifest['wheel']['file'],
			'sha256' => $manifest['wheel']['sha256'],
			'requirements' => $pins,
			'python' => $python['version'],
			'tag' => $python['tag'],
			'built_at' => gmdate('Y-m-d\TH:i:s\Z'),
			'wheels' => $w,
		);
		file_put_contents($venv . '/' . self::MARKER, json_encode($marker, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n");
	}

	/** The venv already holds exactly this package, for this Python, and it starts. */
	private function isCurrent($venv, array $manifest, array $python) {
		$file = $venv . '/' . self::MARKER;
		if (!is_file($file) || !is_executable($venv . '/bin/freepbx-callback')) {
			return false;
		}
		$marker = json_decode((string)file_get_contents($file), true);
		if (!is_array($marker)) {
			return false;
		}
		$pins = array();
		foreach ($manifest['requirements'] as $req) {
			$pins[] = $req['name'] . '==' . $req['version'];
		}
		if (($marker['sha256'] ?? '') !== $manifest['wheel']['sha256'] || ($marker['requirements'] ?? null) !== $pins
			|| ($marker['tag'] ?? '') !== $python['tag']) {
			return false;
		}
		$probe = $this->run(array($venv . '/bin/python', '-c', 'import freepbx_callback'));
		return $probe['exit'] === 0;
	}

	/** The first venv folder this user can create or update; throws with what root must do when none. */
	private function chooseTarget() {
		$home = $this->userHome();
		foreach ($this->venvCandidates() as $venv) {
			if ($this->venv === null && $home !== '' && strpos($venv . '/', rtrim($home, '/') . '/') === 0) {
				// fwconsole chown resets the web user's home recursively and strips execute bits there.
				$this->say(sprintf('not using %s: it is inside the home folder of %s', $venv, $this->currentUser()));
				continue;
			}
			if ($this->writable($venv)) {
				return $venv;
			}
			$this->say(sprintf('cannot write %s as %s', $venv, $this->currentUser()));
		}
		$user = $this->currentUser();
		throw new RuntimeError(sprintf(
			'No folder for the Queue Callback Python runtime is writable by %s (tried %s). Run as root: mkdir -p %s && chown %s %s - then install the module again.',
			$user, implode(', ', $this->venvCandidates()), $this->prefix, $user, $this->prefix
		));
	}

	private function createVenv($venv, array $python) {
		$cfg = $venv . '/pyvenv.cfg';
		$clear = false;
		if (is_file($cfg)) {
			$probe = $this->probe($venv . '/bin/python');
			if ($probe !== null && $probe['tag'] === $python['tag']) {
				$this->say(sprintf('updating the venv in %s (Python %s)', $venv, $probe['version']));
				return;
			}
			$clear = true;
		} elseif (is_dir($venv) && count((array)scandir($venv)) > 2) {
			throw new RuntimeError(sprintf('%s exists and is not a virtualenv; move it away, then install the module again.', $venv));
		}
		$this->say(sprintf('%s the venv %s with %s (Python %s)', $clear ? 'recreating' : 'creating', $venv, $python['executable'], $python['version']));
		$args = array($python['executable'], '-m', 'venv', '--without-pip');
		if ($clear) {
			$args[] = '--clear';
		}
		$args[] = $venv;
		$done = $this->run($args);
		if ($done['exit'] !== 0) {
			$detail = self::lastLine($done['stderr'] . "\n" . $done['stdout']);
			if (strpos($done['stderr'], 'No module named venv') !== false) {
				$pkg = $python['default'] ? 'python3-venv' : 'python' . $python['short'] . '-venv';
				throw new RuntimeError(sprintf('%s has no venv module. Run as root: apt-get install -y %s - then install the module again.', $python['executable'], $pkg), array($pkg));
			}
			throw new RuntimeError(sprintf('Could not create the virtualenv %s: %s', $venv, $detail));
		}
	}

	/** Runs pip; on failure a RuntimeError with pip's own error (and the packages to add when a build failed). */
	private function pip($vpy, array $args, $what, $python = null, array $built = array()) {
		$done = $this->run(array_merge(array($vpy), $args));
		if ($done['exit'] === 0) {
			return;
		}
		$text = $done['stderr'] . "\n" . $done['stdout'];
		$missing = ($python !== null && $built) ? $this->missingBuildPackages($built, $python) : array();
		$message = sprintf('Installing %s into the Queue Callback virtualenv failed: %s', $what, self::pipError($text));
		if ($missing) {
			$message .= sprintf(' Run as root: apt-get install -y %s - then install the module again.', implode(' ', $missing));
		}
		throw new RuntimeError($message, $missing);
	}

	/** The CLI answers --version with the manifest's version, and the database driver loads. */
	private function verify($venv, array $manifest) {
		$db = $this->run(array($venv . '/bin/python', '-c', 'import MySQLdb'));
		if ($db['exit'] !== 0) {
			$text = $db['stderr'];
			if (preg_match('/lib(mariadb|mysqlclient)[^:\s]*\.so[.\d]*/', $text, $m)) {
				throw new RuntimeError(sprintf('The MariaDB client library is missing (%s). Run as root: apt-get install -y libmariadb3 - then install the module again.', $m[0]), array('libmariadb3'));
			}
			throw new RuntimeError(sprintf('The database driver does not load in %s: %s', $venv, self::lastLine($text)));
		}
		$cli = $this->run(array($venv . '/bin/freepbx-callback', '--version'));
		if ($cli['exit'] !== 0 || strpos($cli['stdout'] . $cli['stderr'], $manifest['version']) === false) {
			throw new RuntimeError(sprintf('%s/bin/freepbx-callback --version failed: %s', $venv, self::lastLine($cli['stderr'] . "\n" . $cli['stdout'])));
		}
	}

	/** Points <varlib>/freepbx-callback/current at $venv when it can; returns the CLI path to use. */
	private function publish($venv) {
		$base = self::baseDir($this->varlib);
		$pointer = self::pointer($this->varlib);
		$cli = '/bin/freepbx-callback';
		if (!$this->mkdirs($base)) {
			$this->say(sprintf('cannot create %s; the CLI is %s', $base, $venv . $cli));
			return $venv . $cli;
		}
		if (is_link($pointer) && readlink($pointer) === $venv) {
			return $pointer . $cli;
		}
		$tmp = $pointer . '.new.' . getmypid();
		@unlink($tmp);
		if (!@symlink($venv, $tmp) || !@rename($tmp, $pointer)) {
			@unlink($tmp);
			$this->say(sprintf('cannot point %s at %s; the CLI is %s', $pointer, $venv, $venv . $cli));
			return $venv . $cli;
		}
		$this->chownPath($pointer, true);
		$this->chownPath($base, false);
		return $pointer . $cli;
	}

	// --- the interpreter ------------------------------------------------------------------------------

	/** The base Python: explicit, else python3.X for the wheels' X, else python3; at least MIN_PYTHON. */
	private function findPython(array $manifest) {
		if ($this->python !== null) {
			$names = array($this->python);
		} else {
			$names = array();
			foreach ((array)($manifest['python_tags'] ?? array()) as $tag) {
				if (preg_match('/^cp3(\d+)$/', $tag, $m)) {
					$names[] = 'python3.' . $m[1];
				}
			}
			$names[] = 'python3';
		}
		$tags = (array)($manifest['python_tags'] ?? array());
		$fallback = null;
		$seen = array();
		foreach ($names as $name) {
			$exe = strpos($name, '/') !== false ? $name : $this->which($name);
			if ($exe === null || isset($seen[$exe])) {
				continue;
			}
			$seen[$exe] = true;
			$probe = $this->probe($exe);
			if ($probe === null || version_compare($probe['short'], self::MIN_PYTHON, '<')) {
				continue;
			}
			$probe['executable'] = $exe;
			$probe['default'] = $this->isDefaultPython($probe);
			if (!$tags || in_array($probe['tag'], $tags, true)) {
				return $probe;
			}
			if ($fallback === null) {
				$fallback = $probe;
			}
		}
		if ($fallback !== null) {
			return $fallback;
		}
		throw new RuntimeError(sprintf(
			'Queue Callback needs Python %s or newer and found none (looked for %s in %s). Run as root: apt-get install -y python3 - then install the module again.',
			self::MIN_PYTHON, implode(', ', $names), $this->path
		), array('python3'));
	}

	/** version, short (3.11), tag (cp311), platform, machine, include dir and compiler of an interpreter. */
	private function probe($exe) {
		$code = 'import json, platform, sys, sysconfig; v = sys.version_info; '
			. 'print(json.dumps({"version": platform.python_version(), "short": "%d.%d" % v[:2], '
			. '"tag": "cp%d%d" % v[:2], "platform": sysconfig.get_platform(), "machine": platform.machine(), '
			. '"include": sysconfig.get_paths()["include"], "cc": sysconfig.get_config_var("CC") or "cc", '
			. '"implementation": sys.implementation.name}))';
		$done = $this->run(array($exe, '-c', $code));
		if ($done['exit'] !== 0) {
			return null;
		}
		$data = json_decode(trim($done['stdout']), true);
		return is_array($data) && isset($data['tag']) ? $data : null;
	}

	private function isDefaultPython(array $probe) {
		$default = $this->which('python3');
		if ($default === null) {
			return false;
		}
		$p = $this->probe($default);
		return $p !== null && $p['short'] === $probe['short'];
	}

	/** Whether the manifest's wheel for $req installs on $python (pure, or the same CPython and machine). */
	private function wheelFits(array $req, array $python) {
		if (!empty($req['pure'])) {
			return true;
		}
		$file = (string)$req['wheel'];
		if ($file === '' || !preg_match('/-(cp\d+|py3)-[^-]+-([^-]+)\.whl$/', $file, $m)) {
			return false;
		}
		if ($m[1] !== $python['tag'] && $m[1] !== 'py3') {
			return false;
		}
		return strpos($m[2], $python['machine']) !== false;
	}

	/** Debian packages missing to build $reqs from source with $python. */
	private function missingBuildPackages(array $reqs, array $python) {
		$needs = array();
		foreach ($reqs as $req) {
			$key = strtolower($req['name']);
			$needs = array_merge($needs, array_key_exists($key, self::BUILD_NEEDS) ? self::BUILD_NEEDS[$key] : self::BUILD_NEEDS_DEFAULT);
		}
		$missing = array();
		foreach (array_unique($needs) as $need) {
			switch ($need) {
				case 'cc':
					$cc = preg_split('/\s+/', trim((string)$python['cc']));
					if ($this->which($cc[0]) === null) {
						$missing[] = 'gcc';
					}
					break;
				case 'python-dev':
					if (!is_file(rtrim($python['include'], '/') . '/Python.h')) {
						$missing[] = $python['default'] ? 'python3-dev' : 'python' . $python['short'] . '-dev';
					}
					break;
				case 'pkg-config':
					if ($this->which('pkg-config') === null) {
						$missing[] = 'pkg-config';
					}
					break;
				case 'libmariadb-dev':
					$found = false;
					if ($this->which('pkg-config') !== null) {
						foreach (array('mysqlclient', 'mariadb', 'libmariadb') as $pc) {
							if ($this->run(array('pkg-config', '--exists', $pc))['exit'] === 0) {
								$found = true;
								break;
							}
						}
					} else {
						$found = is_file('/usr/include/mariadb/mysql.h') || is_file('/usr/include/mysql/mysql.h');
					}
					if (!$found) {
						$missing[] = 'libmariadb-dev';
					}
					break;
			}
		}
		return $missing;
	}

	// --- small helpers --------------------------------------------------------------------------------

	private function which($name) {
		if (strpos($name, '/') !== false) {
			return is_file($name) && is_executable($name) ? $name : null;
		}
		foreach (explode(':', $this->path) as $dir) {
			if ($dir !== '' && is_file("$dir/$name") && is_executable("$dir/$name")) {
				return "$dir/$name";
			}
		}
		return null;
	}

	/** Whether $dir can be created or written by this user (walks up to the first existing folder). */
	private function writable($dir) {
		$probe = $dir;
		while (!file_exists($probe)) {
			$parent = dirname($probe);
			if ($parent === $probe) {
				return false;
			}
			$probe = $parent;
		}
		if (!is_dir($probe) || !is_writable($probe)) {
			return false;
		}
		// An existing venv must be writable all through (a root-built venv is not, for the web user).
		if ($probe === $dir && is_dir($dir . '/bin') && !is_writable($dir . '/bin')) {
			return false;
		}
		return true;
	}

	private function mkdirs($dir) {
		if (is_dir($dir)) {
			return is_writable($dir);
		}
		$old = umask(022);
		$ok = @mkdir($dir, 0755, true);
		umask($old);
		return $ok;
	}

	private function currentUser() {
		if (function_exists('posix_geteuid') && function_exists('posix_getpwuid')) {
			$pw = posix_getpwuid(posix_geteuid());
			if (is_array($pw)) {
				return $pw['name'];
			}
		}
		return (string)get_current_user();
	}

	private function userHome() {
		if (function_exists('posix_geteuid') && function_exists('posix_getpwuid')) {
			$pw = posix_getpwuid(posix_geteuid());
			if (is_array($pw) && posix_geteuid() !== 0) {
				return (string)$pw['dir'];
			}
		}
		return '';
	}

	private function isRoot() {
		return function_exists('posix_geteuid') && posix_geteuid() === 0;
	}

	/** A root build hands its folder to the web user, so a later update from the GUI can write it. */
	private function chownTree($dir) {
		if ($this->owner === null || !$this->isRoot()) {
			return;
		}
		$done = $this->run(array('chown', '-R', '-h', $this->owner, $dir));
		if ($done['exit'] !== 0) {
			$this->say(sprintf('chown %s %s failed: %s', $this->owner, $dir, self::lastLine($done['stderr'])));
		}
	}

	private function chownPath($path, $link) {
		if ($this->owner === null || !$this->isRoot()) {
			return;
		}
		$this->run(array('chown', $link ? '-h' : '--', $this->owner, $path));
	}

	private function say($line) {
		if ($this->log !== null) {
			call_user_func($this->log, $line);
		}
	}

	private static function wheelVersion($file) {
		$parts = explode('-', basename($file));
		return isset($parts[1]) ? $parts[1] : '';
	}

	private static function builtWith(array $manifest) {
		$tags = array();
		foreach ((array)($manifest['python_tags'] ?? array()) as $tag) {
			if (preg_match('/^cp3(\d+)$/', $tag, $m)) {
				$tags[] = '3.' . $m[1];
			}
		}
		return $tags ? implode(', ', $tags) : 'another version';
	}

	private static function lastLine($text) {
		$lines = array_values(array_filter(array_map('trim', preg_split('/\r?\n/', (string)$text)), 'strlen'));
		return $lines ? end($lines) : '';
	}

	/** pip's "ERROR: ..." lines (the cause), else its last line. */
	private static function pipError($text) {
		$errors = array();
		foreach (preg_split('/\r?\n/', (string)$text) as $line) {
			if (strpos($line, 'ERROR: ') === 0 || strpos(trim($line), 'error: ') === 0) {
				$errors[] = trim($line);
			}
		}
		$errors = array_slice(array_unique($errors), -4);
		return $errors ? implode(' | ', $errors) : self::lastLine($text);
	}

	/** Runs argv (no shell) with a clean pip/python environment; array('exit','stdout','stderr'). */
	private function run(array $argv) {
		$env = array();
		foreach ((array)getenv() as $key => $value) {
			if (strpos($key, 'PIP_') === 0 || strpos($key, 'PYTHON') === 0 || $key === 'VIRTUAL_ENV' || $key === '__PYVENV_LAUNCHER__') {
				continue;
			}
			$env[$key] = $value;
		}
		$env['PATH'] = $this->path;
		$env['LC_ALL'] = 'C.UTF-8';
		$env['PIP_CONFIG_FILE'] = '/dev/null';   // no host pip.conf: no index, no find-links but ours
		$env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1';
		$env['PIP_NO_CACHE_DIR'] = '1';
		$env['PIP_NO_INPUT'] = '1';
		$env['PIP_NO_WARN_SCRIPT_LOCATION'] = '1';
		$env['PIP_ROOT_USER_ACTION'] = 'ignore';
		$env['PYTHONNOUSERSITE'] = '1';
		if (empty($env['HOME']) || !is_writable($env['HOME'])) {
			$env['HOME'] = sys_get_temp_dir();
		}
		$result = Process::run($argv, $env, $this->timeout);
		if (!$result['started']) {
			return array('exit' => -1, 'stdout' => '', 'stderr' => 'cannot run ' . $argv[0]);
		}
		if ($result['timed_out']) {
			$result['stderr'] .= sprintf("\nerror: %s did not finish within %d s", basename($argv[0]), $this->timeout);
		}
		return array('exit' => $result['exit'], 'stdout' => $result['stdout'], 'stderr' => $result['stderr']);
	}

	// --- command line ---------------------------------------------------------------------------------

	/** `php Runtime.php ensure|locate ...`; returns the exit status. */
	public static function main(array $argv) {
		$command = isset($argv[1]) ? $argv[1] : '';
		$opts = array();
		$quiet = false;
		for ($i = 2; $i < count($argv); $i++) {
			$arg = $argv[$i];
			if ($arg === '--quiet') {
				$quiet = true;
			} elseif (preg_match('/^--(wheels|prefix|varlib|venv|python|owner|path|agi-bin)(=(.*))?$/', $arg, $m)) {
				$opts[$m[1]] = isset($m[3]) ? $m[3] : (isset($argv[$i + 1]) ? $argv[++$i] : '');
			} else {
				fwrite(STDERR, "error: unknown argument $arg\n");
				return 2;
			}
		}
		$varlib = isset($opts['varlib']) && $opts['varlib'] !== '' ? $opts['varlib'] : self::DEFAULT_VARLIB;
		$prefix = isset($opts['prefix']) && $opts['prefix'] !== '' ? $opts['prefix'] : self::DEFAULT_PREFIX;
		if ($command === 'pin-scripts') {
			if (empty($opts['python']) || empty($opts['agi-bin'])) {
				fwrite(STDERR, "usage: php Runtime.php pin-scripts --python PATH --agi-bin DIR\n");
				return 2;
			}
			try {
				foreach (self::pinScripts($opts['agi-bin'], $opts['python']) as $name) {
					echo $name, "\n";
				}
				return 0;
			} catch (RuntimeError $e) {
				fwrite(STDERR, 'error: ' . $e->getMessage() . "\n");
				return 1;
			}
		}
		if ($command === 'locate') {
			$cli = self::locate($varlib, $prefix);
			if ($cli === null) {
				return 1;
			}
			echo $cli, "\n";
			return 0;
		}
		if ($command !== 'ensure') {
			fwrite(STDERR, "usage: php Runtime.php ensure [--wheels DIR] [--prefix DIR] [--varlib DIR] [--venv DIR] [--python PATH] [--owner USER[:GROUP]] [--path PATH] [--quiet]\n       php Runtime.php locate [--varlib DIR] [--prefix DIR]\n       php Runtime.php pin-scripts --python PATH --agi-bin DIR\n");
			return 2;
		}
		$wheels = isset($opts['wheels']) && $opts['wheels'] !== '' ? $opts['wheels'] : dirname(__DIR__) . '/wheels';
		unset($opts['wheels']);
		if (isset($opts['path']) && $opts['path'] === '') {
			unset($opts['path']);
		}
		if (!$quiet) {
			$opts['log'] = function ($line) {
				fwrite(STDERR, $line . "\n");
			};
		}
		try {
			$runtime = new self($wheels, $opts);
			echo $runtime->ensure(), "\n";
			return 0;
		} catch (RuntimeError $e) {
			fwrite(STDERR, 'error: ' . $e->getMessage() . "\n");
			if ($e->packages) {
				echo implode(' ', $e->packages), "\n";
				return 3;
			}
			return 1;
		}
	}
}

if (PHP_SAPI === 'cli' && isset($_SERVER['argv'][0]) && realpath($_SERVER['argv'][0]) === __FILE__) {
	exit(Runtime::main($_SERVER['argv']));
}
