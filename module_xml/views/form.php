<?php
// One queue's callback settings. Submitted by FreePBX's action bar (form.fpbx-submit) to doConfigPageInit.
// Vars: $queue, $settings (`queue show`; keys may be missing for a queue without settings), $name (the FreePBX
// queue's name or null), $conflict, $choices (mode/language values the CLI takes), $recordings, $timegroups
// (FreePBX Time Groups, id => description), $messages, $errors.
// An empty field or "Default" leaves the setting to the CLI; the CLI checks every value and says what is wrong.
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
$h = function ($value) { return htmlspecialchars((string)$value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); };
$s = $settings;
$v = function ($key) use ($s) { return isset($s[$key]) && !is_array($s[$key]) ? (string)$s[$key] : ''; };
$on = function ($key) use ($s) { return array_key_exists($key, $s) && $s[$key] !== null ? (bool)$s[$key] : null; };
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
		. '<input type="radio" name="' . $h($name) . '" id="' . $id . '-yes" value="1"' . ($on === true ? ' checked' : '') . '>'
		. '<label for="' . $id . '-yes">' . $h($yes) . '</label>'
		. '<input type="radio" name="' . $h($name) . '" id="' . $id . '-no" value="0"' . ($on === false ? ' checked' : '') . '>'
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
$select = function ($name, array $values, array $labels, $current) use ($h) {
	$out = '<select class="form-control" id="qcb-' . $h($name) . '" name="' . $h($name) . '">';
	if ($current === '' || !in_array($current, $values, true)) {
		$out .= '<option value=""' . ($current === '' ? ' selected' : '') . '>' . $h(_('Default')) . '</option>';
	}
	if ($current !== '' && !in_array($current, $values, true)) {
		$values[] = $current;
	}
	foreach ($values as $value) {
		$out .= '<option value="' . $h($value) . '"' . ($current === $value ? ' selected' : '') . '>' . $h(isset($labels[$value]) ? $labels[$value] : $value) . '</option>';
	}
	return $out . '</select>';
};
// Labels of the values the CLI takes; one without a label is shown as the CLI spells it.
$modeLabels = array(
	'agent-first' => _('Agent first: call the customer when an agent has taken the call'),
	'customer-first' => _('Customer first: call the customer, then connect to the queue'),
);
$uiLocale = preg_replace('/[.@].*$/', '', (string)setlocale(LC_MESSAGES, 0));
$uiLocale = $uiLocale === '' || $uiLocale === 'C' || $uiLocale === 'POSIX' ? 'en' : $uiLocale;
$languageLabels = array();
foreach ($choices['language'] as $code) {
	$languageLabels[$code] = class_exists('Locale') ? \Locale::getDisplayLanguage($code, $uiLocale) . ' (' . $code . ')' : $code;
}
?>
<div class="container-fluid qcb-page">
	<h1><?php echo $h(sprintf(_('Queue Callback: queue %s'), $queue)); ?>
		<?php if ($name !== null) { ?><small><?php echo $h($name); ?></small><?php } ?></h1>
	<p><a href="?display=queuecallback">← <?php echo _('All queues and requests'); ?></a></p>
	<?php foreach ($messages as $message) { ?>
	<div class="alert alert-success qcb-message" role="status"><?php echo $h($message); ?></div>
	<?php } ?>
	<?php foreach ($errors as $error) { ?>
	<div class="alert alert-danger qcb-error" role="alert"><?php echo $h($error); ?></div>
	<?php } ?>
	<?php if ($name === null) { ?>
	<div class="alert alert-warning"><?php echo $h(sprintf(_('There is no FreePBX queue %s; these settings take effect once it exists.'), $queue)); ?></div>
	<?php } ?>
	<?php if ($conflict !== '') { ?>
	<div class="alert alert-warning qcb-conflict"><?php echo $h(sprintf(_('The break-out of this queue is taken by %s. Callers are not offered a callback until that is removed.'), $conflict)); ?></div>
	<?php } ?>
	<form class="fpbx-submit" name="qcbQueue" id="qcb-form" method="post" action="?display=queuecallback&amp;view=form&amp;queue=<?php echo rawurlencode($queue); ?>">
		<input type="hidden" name="action" value="save">
		<input type="hidden" name="queue" value="<?php echo $h($queue); ?>">
		<?php
		echo $row('qcb-enabled-yes', _('Offer callback'), _('Callers waiting in this queue hear the offer and can press 1 to be called back.'), $radio('enabled', $on('enabled'), _('Yes'), _('No')));
		echo $row('qcb-did', _('Caller ID (DID)'), _('The company number the customer sees when called back. Empty: the number the customer dialled.'), $text('did', $v('did'), ' inputmode="tel"'));
		echo $row('qcb-attempts', _('Attempts'), _('Calls to the customer before the request fails.'), $text('attempts', $v('attempts'), ' inputmode="numeric" placeholder="' . $h(_('Default')) . '"'));
		echo $row('qcb-retry-interval', _('Retry interval (seconds)'), _('Pause between two attempts.'), $text('retry_interval', $v('retry_interval'), ' placeholder="' . $h(_('Default')) . '"'));
		echo $row('qcb-window', _('Callback window (seconds)'), _('How long an attempt may wait for a free agent before the request expires.'), $text('window', $v('window'), ' placeholder="' . $h(_('Default')) . '"'));
		echo $row('qcb-offer-every', _('Offer every (seconds)'), _('How often callers in the queue hear the offer.'), $text('offer_every', $v('offer_every'), ' placeholder="' . $h(_('Default')) . '"'));
		echo $row('qcb-announce-position-yes', _('Position and wait before the offer'), _('Before each offer, callers hear their place in line and the expected wait (figures of the queue itself, in the language of the caller). While callback is on, this takes over the position announcement settings of the queue.'), $radio('announce_position', $on('announce_position'), _('Yes'), _('No')));
		echo $row('qcb-mode', _('Mode'), _('Who is called first.'), $select('mode', $choices['mode'], $modeLabels, $v('mode')));
		echo $row('qcb-notify-agents-yes', _('Notify agents'), _('The agent hears "callback for <number>" before being connected.'), $radio('notify_agents', $on('notify_agents'), _('Yes'), _('No')));
		echo $row('qcb-agent-accept-yes', _('Agent accepts with 1'), _('Agent first only: after the whisper the agent presses 1 to take the callback; an agent who does not is hung up, the next agent is tried, and the try does not count against the customer.'), $radio('agent_accept', $on('agent_accept'), _('Yes'), _('No')));
		echo $row('qcb-offer-times-yes', _('Caller chooses the time'), _('After pressing 1 the caller chooses: 1 as soon as possible, 2 in one hour, 3 tomorrow morning.'), $radio('offer_times', $on('offer_times'), _('Yes'), _('No')));
		echo $row('qcb-language', _('Language'), _('Language of the prompts the customer hears.'), $select('language', $choices['language'], $languageLabels, $v('language')));
		$recs = '<select class="form-control" id="qcb-offer-recording" name="offer_recording"><option value="default">' . $h(_('Default (shipped prompt)')) . '</option>';
		foreach ($recordings as $id => $rec) {
			$recs .= '<option value="' . $h($id) . '"' . ($offerId === (string)$id ? ' selected' : '') . '>' . $h($rec['name']) . '</option>';
		}
		$recs .= '</select>';
		echo $row('qcb-offer-recording', _('Offer prompt'), _('A system recording to play instead of the shipped offer ("press 1 to be called back").'), $recs);
		echo $row('qcb-max-pending', _('Open requests limit'), _('Callers are told callback is unavailable beyond this many open requests. Empty: no limit.'), $text('max_pending', $v('max_pending'), ' inputmode="numeric"'));
		$block = implode("\n", isset($s['block_patterns']) ? (array)$s['block_patterns'] : array());
		$allow = implode("\n", isset($s['allow_patterns']) ? (array)$s['allow_patterns'] : array());
		echo $row('qcb-block-patterns', _('Blocked numbers'), _('One pattern per line: _1900NXXXXXX or a prefix such as +44. Matching numbers cannot ask for a callback.'), '<textarea class="form-control" rows="3" id="qcb-block-patterns" name="block_patterns">' . $h($block) . '</textarea>');
		$groups = '<select class="form-control" id="qcb-timegroup" name="timegroup"><option value="">' . $h(_('None: the callback hours below')) . '</option>';
		foreach ($timegroups as $id => $description) {
			$groups .= '<option value="' . $h($id) . '"' . ($v('timegroup') === (string)$id ? ' selected' : '') . '>' . $h($description) . '</option>';
		}
		$groups .= '</select>';
		echo $row('qcb-timegroup', _('Callback hours: Time Group'), _('Callbacks are dialled only while this Time Group matches; a request made outside it is told when it will be called.'), $groups);
		$hours = implode("\n", isset($s['hours']) ? (array)$s['hours'] : array());
		echo $row('qcb-hours', _('Callback hours'), _('Without a Time Group: one rule per line, such as mon-fri 09:00-17:00. Empty: any time.'), '<textarea class="form-control" rows="3" id="qcb-hours" name="hours">' . $h($hours) . '</textarea>');
		echo $row('qcb-timezone', _('Time zone of the hours'), _('Such as Europe/Moscow.'), $text('timezone', $v('timezone'), ' placeholder="UTC"'));
		echo $row('qcb-allow-patterns', _('Allowed numbers'), _('One pattern per line. When set, only matching numbers can ask for a callback.'), '<textarea class="form-control" rows="3" id="qcb-allow-patterns" name="allow_patterns">' . $h($allow) . '</textarea>');
		?>
	</form>
</div>
