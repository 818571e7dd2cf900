<?php
// The dialplan hook (run by `fwconsole reload` / Apply Config): `freepbx-callback dialplan --target freepbx
// --asterisk-version V --json` renders our contexts and each queue's queues.conf lines; this class hands them
// to FreePBX's dialplan object and to the queues module's queues_additional.conf.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class DialplanHook {
	/** @var CliRunner */
	private $cli;
	/** @var Queues */
	private $queues;
	/** @var Notices */
	private $notices;
	/** @var object FreePBX's Config */
	private $config;

	public function __construct(CliRunner $cli, Queues $queues, Notices $notices, $config) {
		$this->cli = $cli;
		$this->queues = $queues;
		$this->notices = $notices;
		$this->config = $config;
	}

	public function run($ext, $engine) {
		if ($engine !== 'asterisk') {
			return;
		}
		try {
			$rendered = $this->cli->json($this->args());
		} catch (CliError $e) {
			$this->notices->warning('dialplan', Module::t('Queue Callback: no dialplan'), sprintf(Module::t('freepbx-callback dialplan failed: %s. Callers are not offered a callback until this is fixed.'), $e->getMessage()));
			return;
		}
		$this->notices->clear('dialplan');
		self::addDialplan($ext, isset($rendered['dialplan']) ? (string)$rendered['dialplan'] : '');
		$conflicts = array();
		$settings = isset($rendered['queues']) && is_array($rendered['queues']) ? $rendered['queues'] : array();
		$conf = class_exists('queues_conf') ? \queues_conf::create() : null;
		foreach ($settings as $queue => $lines) {
			$queue = (string)$queue;
			if (!$this->queues->exists($queue)) {
				$conflicts[] = sprintf(Module::t('queue %s does not exist in FreePBX'), $queue);
				continue;
			}
			$why = $this->queues->conflict($queue);
			if ($why !== '') {
				$conflicts[] = sprintf(Module::t('queue %1$s: its break-out is taken by %2$s, so callers are not offered a callback'), $queue, $why);
				continue;
			}
			if ($conf === null) {
				continue;
			}
			foreach ((array)$lines as $key => $value) {
				$conf->addQueuesAdditional($queue, (string)$key, (string)$value);
			}
			// the caller's side of the queue (its language), just before FreePBX's Queue() line
			$entry = isset($rendered['queue_entry'][$queue]) ? (array)$rendered['queue_entry'][$queue] : array();
			foreach ($entry as $app) {
				if (method_exists($ext, 'splice')) {
					$ext->splice('ext-queues', $queue, 'qcall', new \extension((string)$app));
				}
			}
		}
		if ($conflicts) {
			$this->notices->warning('conflict', Module::t('Queue Callback: queues without callback'), ucfirst(implode('; ', $conflicts)) . '.');
		} else {
			$this->notices->clear('conflict');
		}
	}

	/** `dialplan` arguments: FreePBX's agi-bin folder and the running Asterisk's version (Queue() changed in 21). */
	public function args() {
		$args = array('dialplan', '--target', 'freepbx');
		$agidir = $this->config->get('ASTAGIDIR');
		if (is_string($agidir) && $agidir !== '') {
			$args[] = '--agi=' . $agidir;
		}
		// while the module's daemon (`freepbx-callback serve`) runs: its FastAGI server, with the agi-bin
		// scripts as the fallback in the same call when it does not answer
		$args[] = '--serve-fastagi';
		$version = $this->asteriskVersion();
		if ($version !== '') {
			$args[] = '--asterisk-version=' . $version;
		}
		return $args;
	}

	/**
	 * The running Asterisk's version as FreePBX knows it: engine_getinfo() (admin/functions.inc.php, asks
	 * Asterisk over AMI, else `asterisk -V`), else the ASTVERSION setting FreePBX keeps from it; '' if unknown.
	 */
	public function asteriskVersion() {
		if (function_exists('engine_getinfo')) {
			$info = engine_getinfo();
			$version = is_array($info) && isset($info['engine'], $info['version']) && $info['engine'] === 'asterisk' ? (string)$info['version'] : '';
			if ($version !== '' && $version !== '0') {
				return $version;
			}
		}
		$version = $this->config->get('ASTVERSION');
		return is_string($version) ? $version : '';
	}

	/**
	 * Feed `extensions`-format text into FreePBX's dialplan object, line by line, as raw applications
	 * (no ext_agi: FreePBX 17 would rewrite AGI() to its own FastAGI server). Returns the lines added.
	 */
	public static function addDialplan($ext, $text) {
		$context = null;
		$exten = null;
		$added = 0;
		foreach (preg_split('/\r?\n/', (string)$text) as $raw) {
			$line = trim($raw);
			if ($line === '' || $line[0] === ';') {
				continue;
			}
			if (preg_match('/^\[([A-Za-z0-9_.-]+)\]/', $line, $m)) {
				$context = $m[1];
				$exten = null;
				// generated contexts: no `include => <context>-custom` (Asterisk warns at every reload
				// about an include of a context nobody defines)
				if (method_exists($ext, 'addSectionNoCustom')) {
					$ext->addSectionNoCustom($context, true);
				}
				continue;
			}
			if ($context === null) {
				continue;
			}
			if (preg_match('/^include\s*=>\s*([A-Za-z0-9_.-]+)/', $line, $m)) {
				$ext->addInclude($context, $m[1]);
				continue;
			}
			if (preg_match('/^exten\s*=>\s*([^,]+),\s*([^,]+),(.*)$/', $line, $m)) {
				$exten = trim($m[1]);
				$priority = trim($m[2]);
				$app = trim($m[3]);
			} elseif (preg_match('/^same\s*=>\s*([^,]+),(.*)$/', $line, $m) && $exten !== null) {
				$priority = trim($m[1]);
				$app = trim($m[2]);
			} else {
				continue;
			}
			$label = preg_match('/\(([A-Za-z0-9_-]+)\)$/', $priority, $lm) ? $lm[1] : '';
			$ext->add($context, $exten, $label, new \extension($app));
			$added++;
		}
		return $added;
	}
}
