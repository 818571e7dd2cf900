<?php
// One queue's callback settings. Submitted by FreePBX's action bar (form.fpbx-submit) to doConfigPageInit.
// Vars: $queue, $settings, $freepbx (queues_config row or null), $conflict, $recordings, $messages, $errors.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
$h = function ($value) { return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); };
$s = $settings;
$offer = isset($s['prompts']['offer']) ? (string)$s['prompts']['offer'] : '';
$offerId = 'default';
foreach ($recordings as $id => $rec) {
	if ($offer !== '' && $rec['file'] === $offer) {
		$offerId = (string)$id;
	}
}
$radio = function ($name, $on, $yes, $no) use ($h) {
	$id = 'qcb-' . str_replace('_', '-', $name);
	return '<span class="radioset">'
		. '<input type="radio" name="' . $h($name) . '" id="' . $id . '-yes" value="1"' . ($on ? ' checked' : '') . '>'
		. '<label for="' . $id . '-yes">' . $h($yes) . '</label>'
		. '<input type="radio" name="' . $h($name) . '" id="' . $id . '-no" value="0"' . ($on ? '' : ' checked') . '>'
		. '<label for="' . $id . '-no">' . $h($no) . '</label></span>';
};
$row = function ($for, $label, $help, $control) use ($h) {
	return '<div class="element-container"><div class="row form-group">'
		. '<div class="col-md-3"><label class="control-label" for="' . $h($for) . '">' . $h($label) . '</label></div>'
		. '<div class="col-md-9">' . $control . '<span class="help-block form-text text-muted">' . $h($help) . '</span></div>'
		. '</div></div>';
};
$text = function ($name, $value, $extra = '') use ($h) {
	return '<input type="text" class="form-control" id="qcb-' . str_replace('_', '-', $name) . '" name="' . $h($name) . '" value="' . $h($value) . '"' . $extra . '>';
};
?>
<div class="container-fluid qcb-page">
	<h1><?php echo $h(sprintf(_('Queue Callback: queue %s'), $queue)); ?>
		<?php if ($freepbx) { ?><small><?php echo $h($freepbx['descr']); ?></small><?php } ?></h1>
	<p><a href="?display=queuecallback">← <?php echo _('All queues and requests'); ?></a></p>
	<?php foreach ($messages as $message) { ?>
	<div class="alert alert-success qcb-message" role="status"><?php echo $h($message); ?></div>
	<?php } ?>
	<?php foreach ($errors as $error) { ?>
	<div class="alert alert-danger qcb-error" role="alert"><?php echo $h($error); ?></div>
	<?php } ?>
	<?php if (!$freepbx) { ?>
	<div class="alert alert-warning"><?php echo $h(sprintf(_('There is no FreePBX queue %s; these settings take effect once it exists.'), $queue)); ?></div>
	<?php } ?>
	<?php if ($conflict !== '') { ?>
	<div class="alert alert-warning qcb-conflict"><?php echo $h(sprintf(_('The break-out of this queue is taken by %s. Callers are not offered a callback until that is removed.'), $conflict)); ?></div>
	<?php } ?>
	<form class="fpbx-submit" name="qcbQueue" id="qcb-form" method="post" action="?display=queuecallback&amp;view=form&amp;queue=<?php echo rawurlencode($queue); ?>">
		<input type="hidden" name="action" value="save">
		<input type="hidden" name="queue" value="<?php echo $h($queue); ?>">
		<?php
		echo $row('qcb-enabled-yes', _('Offer callback'), _('Callers waiting in this queue hear the offer and can press 1 to be called back.'), $radio('enabled', !empty($s['enabled']), _('Yes'), _('No')));
		echo $row('qcb-did', _('Caller ID (DID)'), _('The company number the customer sees when called back. Empty: the number the customer dialled.'), $text('did', isset($s['did']) ? $s['did'] : '', ' inputmode="tel" maxlength="21"'));
		echo $row('qcb-attempts', _('Attempts'), _('Calls to the customer before the request fails (1-10).'), $text('attempts', $s['attempts'], ' inputmode="numeric" maxlength="2"'));
		echo $row('qcb-retry-interval', _('Retry interval (seconds)'), _('Pause between two attempts (10-86400).'), $text('retry_interval', $s['retry_interval'], ' inputmode="numeric"'));
		echo $row('qcb-window', _('Callback window (seconds)'), _('How long an attempt may wait for a free agent before the request expires (10-86400).'), $text('window', $s['window'], ' inputmode="numeric"'));
		echo $row('qcb-offer-every', _('Offer every (seconds)'), _('How often callers in the queue hear the offer (5-3600).'), $text('offer_every', $s['offer_every'], ' inputmode="numeric"'));
		$modes = '<select class="form-control" id="qcb-mode" name="mode">';
		foreach (array('agent-first' => _('Agent first: call the customer when an agent has taken the call'), 'customer-first' => _('Customer first: call the customer, then connect to the queue')) as $value => $label) {
			$modes .= '<option value="' . $h($value) . '"' . ($s['mode'] === $value ? ' selected' : '') . '>' . $h($label) . '</option>';
		}
		$modes .= '</select>';
		echo $row('qcb-mode', _('Mode'), _('Who is called first.'), $modes);
		echo $row('qcb-notify-agents-yes', _('Notify agents'), _('The agent hears "callback for <number>" before being connected.'), $radio('notify_agents', !empty($s['notify_agents']), _('Yes'), _('No')));
		$langs = '<select class="form-control" id="qcb-language" name="language">';
		foreach (array('en' => _('English'), 'ru' => _('Russian')) as $value => $label) {
			$langs .= '<option value="' . $h($value) . '"' . ($s['language'] === $value ? ' selected' : '') . '>' . $h($label) . '</option>';
		}
		$langs .= '</select>';
		echo $row('qcb-language', _('Language'), _('Language of the prompts the customer hears.'), $langs);
		$recs = '<select class="form-control" id="qcb-offer-recording" name="offer_recording"><option value="default">' . $h(_('Default (shipped prompt)')) . '</option>';
		foreach ($recordings as $id => $rec) {
			$recs .= '<option value="' . $h($id) . '"' . ($offerId === (string)$id ? ' selected' : '') . '>' . $h($rec['name']) . '</option>';
		}
		$recs .= '</select>';
		echo $row('qcb-offer-recording', _('Offer prompt'), _('A system recording to play instead of the shipped offer ("press 1 to be called back").'), $recs);
		echo $row('qcb-max-pending', _('Open requests limit'), _('Callers are told callback is unavailable beyond this many open requests. Empty: no limit.'), $text('max_pending', isset($s['max_pending']) ? $s['max_pending'] : '', ' inputmode="numeric"'));
		$block = implode("\n", isset($s['block_patterns']) ? (array)$s['block_patterns'] : array());
		$allow = implode("\n", isset($s['allow_patterns']) ? (array)$s['allow_patterns'] : array());
		echo $row('qcb-block-patterns', _('Blocked numbers'), _('One pattern per line: _1900NXXXXXX or a prefix such as +44. Matching numbers cannot ask for a callback.'), '<textarea class="form-control" rows="3" id="qcb-block-patterns" name="block_patterns">' . $h($block) . '</textarea>');
		echo $row('qcb-allow-patterns', _('Allowed numbers'), _('One pattern per line. When set, only matching numbers can ask for a callback.'), '<textarea class="form-control" rows="3" id="qcb-allow-patterns" name="allow_patterns">' . $h($allow) . '</textarea>');
		?>
	</form>
</div>
