<?php
// Runs a command without a shell (an argv array for proc_open), stdin from /dev/null, reading its stdout and
// stderr until it ends or the deadline passes (then it is killed). Used by CliRunner and Runtime.
namespace FreePBX\modules\Queuecallback;

class Process {
	/**
	 * array('exit', 'stdout', 'stderr', 'started', 'timed_out'): 'started' false when it could not start;
	 * 'timed_out' true when it was killed at the deadline (its exit is then -1).
	 */
	public static function run(array $argv, $env = null, $timeout = 60) {
		$spec = array(0 => array('file', '/dev/null', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w'));
		$proc = @proc_open($argv, $spec, $pipes, null, $env);
		if (!is_resource($proc)) {
			return array('exit' => -1, 'stdout' => '', 'stderr' => '', 'started' => false, 'timed_out' => false);
		}
		stream_set_blocking($pipes[1], false);
		stream_set_blocking($pipes[2], false);
		$out = '';
		$err = '';
		$deadline = microtime(true) + $timeout;
		while (!feof($pipes[1]) || !feof($pipes[2])) {
			if (microtime(true) > $deadline) {
				proc_terminate($proc, 9);
				fclose($pipes[1]);
				fclose($pipes[2]);
				proc_close($proc);
				return array('exit' => -1, 'stdout' => $out, 'stderr' => $err, 'started' => true, 'timed_out' => true);
			}
			$read = array($pipes[1], $pipes[2]);
			$write = null;
			$except = null;
			if (@stream_select($read, $write, $except, 0, 200000) === false) {
				break;
			}
			foreach ($read as $stream) {
				$chunk = fread($stream, 65536);
				if ($chunk === false || $chunk === '') {
					continue;
				}
				if ($stream === $pipes[1]) {
					$out .= $chunk;
				} else {
					$err .= $chunk;
				}
			}
		}
		fclose($pipes[1]);
		fclose($pipes[2]);
		$status = proc_close($proc);
		return array('exit' => (int)$status, 'stdout' => $out, 'stderr' => $err, 'started' => true, 'timed_out' => false);
	}
}
