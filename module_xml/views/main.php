<?php
// The overview: health, statistics, queues with their callback settings, and the requests table.
// Vars: $messages, $errors, $health (Health::report()), $stats, $queues (FreePBX queues: number => name),
// $settings (ours, by queue), $conflicts, $requests, $status, $statuses (what the CLI's --status takes),
// $reports (StatsChart::byQueue()), $notes (the CLI's notes on the figures), $apikeys (null: not read),
// $token (the token of the key just added, shown on this page only).
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
$h = function ($value) { return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); };
// Labels of the values the CLI prints; a value without a label is shown as the CLI printed it.
$statusLabels = array(
	'pending' => _('Pending'), 'dialing' => _('Dialing'), 'done' => _('Done'), 'failed' => _('Failed'),
	'expired' => _('Expired'), 'cancelled' => _('Cancelled'),
);
$modeLabels = array('agent-first' => _('Agent first'), 'customer-first' => _('Customer first'));
$label = function (array $labels, $value) { return isset($labels[$value]) ? $labels[$value] : (string)$value; };
$time = function ($iso) { return str_replace(array('T', 'Z'), array(' ', ''), (string)$iso); };
$byStatus = $stats && isset($stats['by_status']) ? $stats['by_status'] : array();
$count = function ($key) use ($byStatus) { return isset($byStatus[$key]) ? (int)$byStatus[$key] : 0; };
$median = $stats && isset($stats['median_seconds_to_callback']) ? $stats['median_seconds_to_callback'] : null;
$allQueues = $queues;
foreach ($settings as $num => $row) {
	if (!isset($allQueues[$num])) {
		$allQueues[$num] = null;
	}
}
ksort($allQueues, SORT_NATURAL);
if ($status !== '' && !in_array($status, $statuses, true)) {
	$statuses[] = $status;
}
?>
<div class="container-fluid qcb-page" id="qcb-page">
	<h1><?php echo _('Queue Callback'); ?></h1>
	<div id="qcb-messages">
	<?php foreach ($messages as $message) { ?>
		<div class="alert alert-success qcb-message" role="status"><?php echo $h($message); ?></div>
	<?php } ?>
	<?php foreach ($errors as $error) { ?>
		<div class="alert alert-danger qcb-error" role="alert"><?php echo $h($error); ?></div>
	<?php } ?>
	<?php if (isset($token) && $token !== null && $token !== '') { ?>
		<div class="alert alert-warning qcb-token" role="status" id="qcb-new-token">
			<?php echo _('Token of the new key (shown only now; only its hash is stored):'); ?>
			<code class="qcb-token-value"><?php echo $h($token); ?></code>
		</div>
	<?php } ?>
	</div>

	<?php include __DIR__ . '/health.php'; ?>

	<div class="row qcb-stats" id="qcb-stats">
		<?php
		$tiles = array(
			'requested' => array(_('Requested'), $stats ? (int)$stats['requested'] : 0),
			'done' => array(_('Called back'), $count('done')),
			'failed' => array(_('Failed'), $count('failed')),
			'expired' => array(_('Expired'), $count('expired')),
			'median' => array(_('Median time to callback'), $median === null ? '–' : sprintf(_('%s min'), number_format($median / 60, 1))),
		);
		foreach ($tiles as $key => $tile) { ?>
		<div class="col-sm-2 col-xs-6">
			<div class="panel panel-default card qcb-tile" data-stat="<?php echo $h($key); ?>">
				<div class="panel-body card-body">
					<div class="qcb-tile-value"><?php echo $h($tile[1]); ?></div>
					<div class="qcb-tile-label"><?php echo $h($tile[0]); ?></div>
				</div>
			</div>
		</div>
		<?php } ?>
	</div>

	<?php include __DIR__ . '/reports.php'; ?>

	<h2><?php echo _('Queues'); ?></h2>
	<table class="table table-striped table-condensed table-sm" id="qcb-queues">
		<thead><tr>
			<th><?php echo _('Queue'); ?></th><th><?php echo _('Name'); ?></th><th><?php echo _('Callback'); ?></th>
			<th><?php echo _('DID'); ?></th><th><?php echo _('Mode'); ?></th><th><?php echo _('Attempts'); ?></th>
			<th><?php echo _('Notify agents'); ?></th><th></th>
		</tr></thead>
		<tbody>
		<?php if (!$allQueues) { ?>
			<tr><td colspan="8"><?php echo _('No queues yet: add one under Applications → Queues.'); ?></td></tr>
		<?php } ?>
		<?php foreach ($allQueues as $num => $name) {
			$s = isset($settings[$num]) ? $settings[$num] : null;
			$on = $s && !empty($s['enabled']);
			$conflict = isset($conflicts[$num]) ? $conflicts[$num] : '';
		?>
			<tr data-queue="<?php echo $h($num); ?>">
				<td><?php echo $h($num); ?></td>
				<td><?php echo $h($name === null ? _('(not a FreePBX queue)') : $name); ?></td>
				<td>
					<span class="badge <?php echo $on ? 'badge-success' : 'badge-secondary'; ?> qcb-state"><?php echo $on ? _('On') : _('Off'); ?></span>
					<?php if ($conflict !== '') { ?>
					<span class="text-warning qcb-conflict" title="<?php echo $h(sprintf(_('The queue break-out is taken by %s; callers are not offered a callback.'), $conflict)); ?>">⚠ <?php echo $h($conflict); ?></span>
					<?php } ?>
				</td>
				<td><?php echo $h($s && isset($s['did']) ? $s['did'] : ''); ?></td>
				<td><?php echo $h($s && isset($s['mode']) ? $label($modeLabels, $s['mode']) : ''); ?></td>
				<td><?php echo $h($s && isset($s['attempts']) ? $s['attempts'] : ''); ?></td>
				<td><?php echo $s && isset($s['notify_agents']) ? ($s['notify_agents'] ? _('Yes') : _('No')) : ''; ?></td>
				<td><a class="btn btn-default btn-sm btn-outline-secondary qcb-edit" href="?display=queuecallback&amp;view=form&amp;queue=<?php echo rawurlencode($num); ?>"><?php echo _('Edit'); ?></a></td>
			</tr>
		<?php } ?>
		</tbody>
	</table>

	<h2><?php echo _('Callback requests'); ?></h2>
	<form class="form-inline qcb-filter" method="get" action="">
		<input type="hidden" name="display" value="queuecallback">
		<label for="qcb-status"><?php echo _('Status'); ?></label>
		<select name="status" id="qcb-status" class="form-control input-sm">
			<option value=""><?php echo _('All'); ?></option>
			<?php foreach ($statuses as $value) { ?>
			<option value="<?php echo $h($value); ?>"<?php echo $status === $value ? ' selected' : ''; ?>><?php echo $h($label($statusLabels, $value)); ?></option>
			<?php } ?>
		</select>
		<button type="submit" class="btn btn-default btn-sm qcb-filter-go"><?php echo _('Show'); ?></button>
	</form>
	<table class="table table-striped table-condensed table-sm" id="qcb-requests">
		<thead><tr>
			<th>#</th><th><?php echo _('Queue'); ?></th><th><?php echo _('Number'); ?></th><th><?php echo _('Status'); ?></th>
			<th><?php echo _('Attempts'); ?></th><th><?php echo _('Requested'); ?></th><th><?php echo _('Next attempt (UTC)'); ?></th>
			<th><?php echo _('Last outcome'); ?></th><th></th>
		</tr></thead>
		<tbody>
		<?php if (!$requests) { ?>
			<tr class="qcb-empty"><td colspan="9"><?php echo _('No callback requests.'); ?></td></tr>
		<?php } ?>
		<?php foreach ($requests as $r) {
			$open = \FreePBX\modules\Queuecallback\Requests::isOpen($r);
		?>
			<tr data-request="<?php echo $h($r['id']); ?>">
				<td><?php echo $h($r['id']); ?></td>
				<td><?php echo $h($r['queue']); ?></td>
				<td><?php echo $h($r['number']); ?></td>
				<td class="qcb-status" data-status="<?php echo $h($r['status']); ?>"><?php echo $h($label($statusLabels, $r['status'])); ?></td>
				<td><?php echo $h($r['attempts']); ?></td>
				<td><?php echo $h($time($r['requested_at'])); ?></td>
				<td class="qcb-next"><?php echo $open ? $h($time($r['next_attempt_at'])) : ''; ?>
					<?php if ($r['status'] === 'pending') { ?>
					<form method="post" action="?display=queuecallback" class="qcb-action qcb-reschedule form-inline">
						<input type="hidden" name="action" value="reschedule"><input type="hidden" name="id" value="<?php echo $h($r['id']); ?>">
						<input type="text" name="at" class="form-control input-sm qcb-at" size="16" placeholder="<?php echo $h(_('YYYY-MM-DD HH:MM')); ?>" aria-label="<?php echo $h(_('Call at (UTC)')); ?>">
						<button type="submit" class="btn btn-default btn-xs btn-sm btn-outline-secondary"><?php echo _('Call at'); ?></button>
					</form>
					<?php } ?>
				</td>
				<td><?php echo $h(isset($r['last_outcome']) ? $r['last_outcome'] : ''); ?></td>
				<td class="qcb-actions">
					<?php if ($open) { ?>
					<form method="post" action="?display=queuecallback" class="qcb-action" data-confirm="<?php echo $h(_('Cancel this callback?')); ?>">
						<input type="hidden" name="action" value="cancel"><input type="hidden" name="id" value="<?php echo $h($r['id']); ?>">
						<button type="submit" class="btn btn-warning btn-xs btn-sm qcb-cancel"><?php echo _('Cancel'); ?></button>
					</form>
					<?php } ?>
					<form method="post" action="?display=queuecallback" class="qcb-action">
						<input type="hidden" name="action" value="retry"><input type="hidden" name="id" value="<?php echo $h($r['id']); ?>">
						<button type="submit" class="btn btn-default btn-xs btn-sm btn-outline-secondary qcb-retry"><?php echo $open ? _('Call now') : _('Call again'); ?></button>
					</form>
				</td>
			</tr>
		<?php } ?>
		</tbody>
	</table>

	<?php include __DIR__ . '/apikeys.php'; ?>
</div>
