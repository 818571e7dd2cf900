<?php
// Health panel of the overview (included by main.php): `freepbx-callback doctor --json`.
// Vars: $health (Health::report(): ok, error, checks, failing, journal|null, daemon|null), $h.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
use FreePBX\modules\Queuecallback\Health;
$yesNo = function ($value, $yes, $no) { return $value === null ? _('unknown') : ($value ? $yes : $no); };
$daemon = $health['daemon'];
$journal = $health['journal'];
$problems = Health::problems($health);
$good = !$problems && !($journal !== null && $journal['waiting'] > 0);
?>
<div class="panel card qcb-health <?php echo $good ? 'panel-success border-success' : 'panel-danger border-danger'; ?>" id="qcb-health" data-ok="<?php echo $good ? '1' : '0'; ?>">
	<div class="panel-heading card-header"><strong><?php echo _('Health'); ?>:</strong>
		<span class="qcb-health-state"><?php echo $good ? _('all checks pass') : _('needs attention'); ?></span></div>
	<div class="panel-body card-body">
	<?php if ($health['error'] !== '') { ?>
		<p class="text-danger qcb-health-error"><?php echo $h(sprintf(_('freepbx-callback doctor did not answer: %s'), $health['error'])); ?></p>
	<?php } else { ?>
		<div class="row qcb-health-facts">
			<div class="col-sm-3 qcb-fact"><div class="qcb-fact-label"><?php echo _('Dialer'); ?></div>
			<div class="qcb-fact-value" data-fact="daemon"><?php
				if ($daemon === null) {
					echo _('not reported by this freepbx-callback');
				} else {
					echo $h($yesNo($daemon['up'], _('running'), _('not running')));
					if ($daemon['node'] !== null && $daemon['node'] !== '') {
						echo ' ' . $h(sprintf(_('(node %s)'), $daemon['node']));
					}
				} ?></div></div>
			<div class="col-sm-3 qcb-fact"><div class="qcb-fact-label"><?php echo _('Last dialer tick'); ?></div>
			<div class="qcb-fact-value" data-fact="last_tick"><?php
				if ($daemon === null || $daemon['last_tick_at'] === null) {
					echo _('never');
				} else {
					$ago = Health::since($daemon['last_tick_at']);
					echo $h(str_replace(array('T', 'Z'), array(' ', ''), $daemon['last_tick_at']) . ' UTC');
					if ($ago !== null) {
						echo ' ' . $h(sprintf(_('(%s ago)'), Health::age($ago)));
					}
				} ?></div></div>
			<div class="col-sm-3 qcb-fact"><div class="qcb-fact-label"><?php echo _('AMI login'); ?></div>
			<div class="qcb-fact-value" data-fact="ami"><?php echo $h($daemon === null ? _('unknown') : $yesNo($daemon['ami_ok'], _('OK'), _('failed'))); ?></div></div>
			<div class="col-sm-3 qcb-fact"><div class="qcb-fact-label"><?php echo _('Journal backlog'); ?></div>
			<div class="qcb-fact-value" data-fact="journal"><?php
				if ($journal === null) {
					echo _('unknown');
				} elseif ($journal['waiting'] === 0) {
					echo _('empty');
				} else {
					echo $h(sprintf(_('%1$d request(s) waiting, the oldest for %2$s'), $journal['waiting'], Health::age($journal['oldest_age_s'])));
				} ?></div></div>
		</div>
	<?php } ?>
	<?php if ($health['failing']) { ?>
		<ul class="qcb-health-failing">
		<?php foreach ($health['failing'] as $check) { ?>
			<li class="text-danger" data-check="<?php echo $h($check['check']); ?>"><strong><?php echo $h($check['check']); ?></strong>: <?php echo $h($check['detail']); ?>
				<?php if ($check['fix'] !== '') { ?><br><span class="qcb-fix"><?php echo $h(sprintf(_('To fix: %s'), $check['fix'])); ?></span><?php } ?></li>
		<?php } ?>
		</ul>
	<?php } elseif ($problems) { ?>
		<p class="text-danger"><?php echo $h(implode('; ', $problems)); ?></p>
	<?php } ?>
	</div>
</div>
