<?php
// The HTTP API's keys (included by main.php): the list (revoked keys too), Revoke, and the form that adds
// one. The token of a new key is shown once, in the messages above (main.php).
// Vars: $apikeys (rows of `apikey list --all --json`, or null when they could not be read), $queues, $h, $time.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
?>
<div class="qcb-apikeys-section" id="qcb-apikeys-section">
	<h2><?php echo _('API keys'); ?></h2>
	<p class="text-muted"><?php echo _('Clients of the HTTP API (freepbx-callback serve) authenticate with a key\'s token. Only a hash of the token is stored: it is shown once, when the key is added.'); ?></p>
	<table class="table table-striped table-condensed table-sm" id="qcb-apikeys">
		<thead><tr>
			<th><?php echo _('Name'); ?></th><th><?php echo _('Token'); ?></th><th><?php echo _('Queues'); ?></th>
			<th><?php echo _('Requests per minute'); ?></th><th><?php echo _('Requests per number and hour'); ?></th>
			<th><?php echo _('Created (UTC)'); ?></th><th><?php echo _('Revoked (UTC)'); ?></th><th></th>
		</tr></thead>
		<tbody>
		<?php if ($apikeys === null) { ?>
			<tr class="qcb-empty"><td colspan="8"><?php echo _('The keys could not be read.'); ?></td></tr>
		<?php } elseif (!$apikeys) { ?>
			<tr class="qcb-empty"><td colspan="8"><?php echo _('No API keys yet.'); ?></td></tr>
		<?php } ?>
		<?php foreach ((array)$apikeys as $key) {
			$revoked = isset($key['revoked_at']) && $key['revoked_at'] !== null && $key['revoked_at'] !== '';
			$keyQueues = isset($key['queues']) ? (array)$key['queues'] : array();
		?>
			<tr data-apikey="<?php echo $h($key['name']); ?>" class="<?php echo $revoked ? 'qcb-revoked text-muted' : 'qcb-active'; ?>">
				<td class="qcb-key-name"><?php echo $h($key['name']); ?></td>
				<td><code><?php echo $h(isset($key['token_hint']) ? $key['token_hint'] : ''); ?></code></td>
				<td class="qcb-key-queues"><?php echo $keyQueues ? $h(implode(', ', $keyQueues)) : _('All queues'); ?></td>
				<td><?php echo $h(isset($key['per_minute']) ? $key['per_minute'] : ''); ?></td>
				<td><?php echo $h(isset($key['per_number_hour']) ? $key['per_number_hour'] : ''); ?></td>
				<td><?php echo $h($time(isset($key['created_at']) ? $key['created_at'] : '')); ?></td>
				<td class="qcb-key-revoked"><?php echo $revoked ? $h($time($key['revoked_at'])) : ''; ?></td>
				<td>
					<?php if (!$revoked) { ?>
					<form method="post" action="?display=queuecallback" class="qcb-confirm" data-confirm="<?php echo $h(sprintf(_('Revoke key %s? Its token stops working at once.'), $key['name'])); ?>">
						<input type="hidden" name="action" value="apikey_revoke"><input type="hidden" name="name" value="<?php echo $h($key['name']); ?>">
						<button type="submit" class="btn btn-danger btn-xs btn-sm qcb-revoke"><?php echo _('Revoke'); ?></button>
					</form>
					<?php } ?>
				</td>
			</tr>
		<?php } ?>
		</tbody>
	</table>

	<h3><?php echo _('Add a key'); ?></h3>
	<form method="post" action="?display=queuecallback" class="qcb-apikey-add" id="qcb-apikey-add">
		<input type="hidden" name="action" value="apikey_add">
		<div class="form-group">
			<label for="qcb-key-name"><?php echo _('Name'); ?></label>
			<input type="text" name="name" id="qcb-key-name" class="form-control" maxlength="64" required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}" placeholder="<?php echo $h(_('e.g. crm')); ?>">
			<small class="help-block form-text text-muted"><?php echo _('1-64 letters, digits, ".", "-" or "_".'); ?></small>
		</div>
		<div class="form-group qcb-key-queue-choice">
			<label><?php echo _('Queues'); ?></label>
			<div>
			<?php foreach ($queues as $num => $name) { ?>
				<label class="checkbox-inline form-check-inline qcb-key-queue">
					<input type="checkbox" name="queues[]" value="<?php echo $h($num); ?>"> <?php echo $h(sprintf('%s %s', $num, $name)); ?>
				</label>
			<?php } ?>
			</div>
			<small class="help-block form-text text-muted"><?php echo _('None chosen: the key may ask for a callback in every queue.'); ?></small>
		</div>
		<div class="form-group">
			<label for="qcb-key-per-minute"><?php echo _('Requests per minute'); ?></label>
			<input type="number" min="1" name="per_minute" id="qcb-key-per-minute" class="form-control" placeholder="<?php echo $h(_('default')); ?>">
		</div>
		<div class="form-group">
			<label for="qcb-key-per-number-hour"><?php echo _('Requests per number and hour'); ?></label>
			<input type="number" min="1" name="per_number_hour" id="qcb-key-per-number-hour" class="form-control" placeholder="<?php echo $h(_('default')); ?>">
		</div>
		<button type="submit" class="btn btn-primary qcb-key-add"><?php echo _('Add key'); ?></button>
	</form>
</div>
