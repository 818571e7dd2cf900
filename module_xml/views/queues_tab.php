<?php
// The "Callback" tab on FreePBX's queue form (module.xml <hooks>, Queues::hookTabs). Its fields post with the
// queue form; lib/QueueTab.php stores them after the queues module saved the queue.
// Vars: $queue ('' when adding), $settings (`queue show`; a switch the CLI did not print is left unchosen),
// $error, $conflict.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
use FreePBX\modules\Queuecallback as Q;
$h = function ($value) { return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); };
$on = function ($key) use ($settings) { return array_key_exists($key, $settings) && $settings[$key] !== null ? (bool)$settings[$key] : null; };
$radio = function ($name, $on) use ($h) {
	return '<span class="radioset">'
		. '<input type="radio" name="' . $name . '" id="' . $name . 'yes" value="1"' . ($on === true ? ' checked' : '') . '>'
		. '<label for="' . $name . 'yes">' . $h(Q::t('Yes')) . '</label>'
		. '<input type="radio" name="' . $name . '" id="' . $name . 'no" value="0"' . ($on === false ? ' checked' : '') . '>'
		. '<label for="' . $name . 'no">' . $h(Q::t('No')) . '</label></span>';
};
?>
<input type="hidden" name="qcb_present" value="1">
<?php if ($error !== '') { ?>
<div class="alert alert-danger"><?php echo $h(sprintf(Q::t('freepbx-callback: %s'), $error)); ?></div>
<?php } ?>
<?php if ($conflict !== '') { ?>
<div class="alert alert-warning"><?php echo $h(sprintf(Q::t('The break-out of this queue is taken by %s. Callers are not offered a callback until that is removed.'), $conflict)); ?></div>
<?php } ?>
<div class="element-container">
	<div class="row form-group">
		<div class="col-md-3"><label class="control-label" for="qcb_enabledyes"><?php echo $h(Q::t('Offer callback')); ?></label></div>
		<div class="col-md-9"><?php echo $radio('qcb_enabled', $on('enabled')); ?>
			<span class="help-block form-text text-muted"><?php echo $h(Q::t('Callers waiting in this queue hear the offer and can press 1 to be called back.')); ?></span></div>
	</div>
</div>
<div class="element-container">
	<div class="row form-group">
		<div class="col-md-3"><label class="control-label" for="qcb_notify_agentsyes"><?php echo $h(Q::t('Notify agents about callbacks')); ?></label></div>
		<div class="col-md-9"><?php echo $radio('qcb_notify_agents', $on('notify_agents')); ?>
			<span class="help-block form-text text-muted"><?php echo $h(Q::t('The agent hears "callback for <number>" before being connected.')); ?></span></div>
	</div>
</div>
<div class="element-container">
	<div class="row form-group">
		<div class="col-md-3"><label class="control-label" for="qcb_announce_positionyes"><?php echo $h(Q::t('Position and wait before the offer')); ?></label></div>
		<div class="col-md-9"><?php echo $radio('qcb_announce_position', $on('announce_position')); ?>
			<span class="help-block form-text text-muted"><?php echo $h(Q::t('Before each offer, callers hear their place in line and the expected wait (figures of the queue itself, in the language of the caller). While callback is on, this takes over the position announcement settings of the queue.')); ?></span></div>
	</div>
</div>
<?php if ($queue !== '') { ?>
<p><a href="?display=queuecallback&amp;view=form&amp;queue=<?php echo rawurlencode($queue); ?>"><?php echo $h(Q::t('More callback settings (caller ID, attempts, window, prompts)')); ?></a></p>
<?php } ?>
