<?php
// Health of the Python side: `freepbx-callback doctor --json`, shown on the page and mirrored into FreePBX
// notifications (raised while a check fails or requests wait in the journal, cleared when all is well).
// Doctor's report: {"ok", "checks": [{"check", "ok", "detail"[, "fix"]}], "journal": {"waiting", "oldest_age_s"},
// "daemon": {"up", "last_tick_at", "ami_ok", "node"}}; an older CLI prints only ok and checks.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class Health {
	const LINK = 'config.php?display=queuecallback';

	/** @var CliRunner */
	private $cli;
	/** @var Notices */
	private $notices;

	public function __construct(CliRunner $cli, Notices $notices) {
		$this->cli = $cli;
		$this->notices = $notices;
	}

	/**
	 * Doctor's report in a fixed shape: ok (bool|null), error ('' or why doctor did not answer), checks,
	 * failing (the checks that failed), journal and daemon (null when the CLI does not report them).
	 */
	public function report() {
		$out = array('ok' => null, 'error' => '', 'checks' => array(), 'failing' => array(), 'journal' => null, 'daemon' => null);
		try {
			$result = $this->cli->report(array('doctor'));
		} catch (CliError $e) {
			$out['ok'] = false;
			$out['error'] = $e->getMessage();
			return $out;
		}
		$data = $result['data'];
		$out['ok'] = isset($data['ok']) ? (bool)$data['ok'] : $result['exit'] === 0;
		foreach (isset($data['checks']) && is_array($data['checks']) ? $data['checks'] : array() as $check) {
			$row = array(
				'check' => isset($check['check']) ? (string)$check['check'] : '?',
				'ok' => !empty($check['ok']),
				'detail' => isset($check['detail']) ? (string)$check['detail'] : '',
				'fix' => isset($check['fix']) && is_string($check['fix']) ? $check['fix'] : '',
			);
			$out['checks'][] = $row;
			if (!$row['ok']) {
				$out['failing'][] = $row;
			}
		}
		if (isset($data['journal']) && is_array($data['journal'])) {
			$journal = $data['journal'];
			$out['journal'] = array(
				'waiting' => isset($journal['waiting']) ? (int)$journal['waiting'] : 0,
				'oldest_age_s' => isset($journal['oldest_age_s']) ? (float)$journal['oldest_age_s'] : null,
			);
		}
		if (isset($data['daemon']) && is_array($data['daemon'])) {
			$daemon = $data['daemon'];
			$out['daemon'] = array(
				'up' => isset($daemon['up']) ? (bool)$daemon['up'] : null,
				'last_tick_at' => isset($daemon['last_tick_at']) ? (string)$daemon['last_tick_at'] : null,
				'ami_ok' => isset($daemon['ami_ok']) ? (bool)$daemon['ami_ok'] : null,
				'node' => isset($daemon['node']) ? (string)$daemon['node'] : null,
			);
		}
		return $out;
	}

	/** Run doctor and bring the notifications up to date; returns the report. */
	public function check() {
		$report = $this->report();
		$this->notify($report);
		return $report;
	}

	/** Raise or clear the two notifications: 'journal' (critical) and 'health' (a failing check). */
	public function notify(array $report) {
		$problems = self::problems($report);
		$waiting = $report['journal'] !== null ? $report['journal']['waiting'] : 0;
		if ($waiting > 0) {
			$text = sprintf(
				Module::t('%1$d callback request(s) wait in the local journal (the oldest for %2$s): freepbx-callback could not store them in the database. Callers pressed 1 but are not called back until this is fixed.'),
				$waiting,
				self::age($report['journal']['oldest_age_s'])
			);
			if ($problems) {
				$text .= ' ' . implode('; ', $problems) . '.';
			}
			$this->notices->critical('journal', sprintf(Module::t('Queue Callback: %d request(s) not stored'), $waiting), $text, self::LINK);
		} else {
			$this->notices->clear('journal');
		}
		if ($problems) {
			$this->notices->warning('health', Module::t('Queue Callback: a health check fails'), implode('; ', $problems) . '.', self::LINK);
		} else {
			$this->notices->clear('health');
		}
	}

	/** One line per problem: doctor not answering, failing checks, else a stopped dialer or AMI refusing us. */
	public static function problems(array $report) {
		if ($report['error'] !== '') {
			return array(sprintf(Module::t('freepbx-callback doctor: %s'), $report['error']));
		}
		$lines = array();
		foreach ($report['failing'] as $check) {
			$lines[] = $check['check'] . ': ' . $check['detail'] . ($check['fix'] !== '' ? ' (' . sprintf(Module::t('fix: %s'), $check['fix']) . ')' : '');
		}
		$daemon = $report['daemon'];
		if (!$lines && $daemon !== null) {
			if ($daemon['up'] === false) {
				$lines[] = Module::t('the dialer is not running, so no callback is placed');
			}
			if ($daemon['ami_ok'] === false) {
				$lines[] = Module::t('the dialer cannot log in to the Asterisk Manager Interface');
			}
		}
		if (!$lines && $report['ok'] === false) {
			$lines[] = Module::t('freepbx-callback doctor reports a problem');
		}
		return $lines;
	}

	/** "42 s", "3 min", "2.5 h" for a number of seconds; "?" when unknown. */
	public static function age($seconds) {
		if ($seconds === null) {
			return '?';
		}
		if ($seconds < 120) {
			return sprintf(Module::t('%d s'), (int)round($seconds));
		}
		if ($seconds < 7200) {
			return sprintf(Module::t('%d min'), (int)round($seconds / 60));
		}
		return sprintf(Module::t('%s h'), number_format($seconds / 3600, 1));
	}

	/** Seconds since an ISO time the CLI printed (UTC, "Z"), or null. */
	public static function since($iso, $now = null) {
		$time = $iso !== null && $iso !== '' ? strtotime((string)$iso) : false;
		if ($time === false) {
			return null;
		}
		return max(0, ($now === null ? time() : $now) - $time);
	}
}
