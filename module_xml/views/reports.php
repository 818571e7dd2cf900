<?php
// Statistics per queue and day (included by main.php): `stats --json`'s by_queue_and_day, the latest days
// with requests of each queue as a table and a chart (lib/StatsChart.php), and the CLI's notes.
// Vars: $reports (queue => days, oldest first), $notes (strings), $h.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
use FreePBX\modules\Queuecallback\StatsChart;
$offeredNote = '';
foreach ($notes as $note) {
	if (strpos((string)$note, 'offered') === 0) {
		$offeredNote = (string)$note;
	}
}
$counts = array(
	'accepted' => _('Accepted'), 'answered' => _('Answered'), 'failed' => _('Failed'), 'expired' => _('Expired'),
	'cancelled' => _('Cancelled'), 'open' => _('Open'),
);
?>
<div class="qcb-reports" id="qcb-reports">
	<h2><?php echo _('Callbacks per queue and day'); ?></h2>
	<p class="text-muted"><?php echo $h(sprintf(_('The latest %d days with requests of each queue; days in UTC; times from the request to the customer connected (min:s).'), StatsChart::DAYS)); ?></p>
	<?php if (!$reports) { ?>
	<p class="qcb-reports-empty"><?php echo _('No callback requests yet.'); ?></p>
	<?php } ?>
	<?php foreach ($reports as $queue => $days) { ?>
	<div class="qcb-report-queue" data-queue="<?php echo $h($queue); ?>">
		<h3><?php echo $h(sprintf(_('Queue %s'), $queue)); ?></h3>
		<div class="qcb-chart-box"><?php echo StatsChart::svg((string)$queue, $days); ?></div>
		<table class="table table-striped table-condensed table-sm qcb-report" data-queue="<?php echo $h($queue); ?>">
			<thead><tr>
				<th><?php echo _('Day (UTC)'); ?></th>
				<th title="<?php echo $h($offeredNote); ?>"><?php echo _('Offered'); ?><?php echo $offeredNote !== '' ? '*' : ''; ?></th>
				<?php foreach ($counts as $heading) { ?><th><?php echo $h($heading); ?></th><?php } ?>
				<th><?php echo _('Median time to callback'); ?></th><th><?php echo _('90th percentile'); ?></th>
			</tr></thead>
			<tbody>
			<?php foreach (array_reverse($days) as $day) { ?>
				<tr data-day="<?php echo $h($day['day']); ?>">
					<td><?php echo $h($day['day']); ?></td>
					<td class="qcb-offered" data-field="offered">–</td>
					<?php foreach (array_keys($counts) as $field) { $value = isset($day[$field]) ? (int)$day[$field] : 0; ?>
					<td data-field="<?php echo $field; ?>" data-value="<?php echo $value; ?>"><?php echo $value; ?></td>
					<?php } ?>
					<?php foreach (array('median_seconds_to_callback', 'p90_seconds_to_callback') as $field) { $value = isset($day[$field]) ? $day[$field] : null; ?>
					<td data-field="<?php echo $field; ?>" data-value="<?php echo $h($value === null ? '' : $value); ?>"><?php echo $h(StatsChart::duration($value)); ?></td>
					<?php } ?>
				</tr>
			<?php } ?>
			</tbody>
		</table>
	</div>
	<?php } ?>
	<?php foreach ($notes as $note) { ?>
	<p class="text-muted qcb-note">* <?php echo $h($note); ?></p>
	<?php } ?>
</div>
