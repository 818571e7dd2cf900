<?php
// FreePBX Job (registered by install(): `fwconsole job` runs it every 5 minutes as the web user): run
// `freepbx-callback doctor` and raise or clear the module's notifications (lib/Health.php).
namespace FreePBX\modules\Queuecallback;

class Job implements \FreePBX\Job\TaskInterface {
	public static function run($input, $output) {
		$report = \FreePBX::Queuecallback()->health()->check();
		if ($output !== null && method_exists($output, 'writeln')) {
			$problems = Health::problems($report);
			$output->writeln($problems ? 'queuecallback: ' . implode('; ', $problems) : 'queuecallback: healthy');
		}
		return true;
	}
}
