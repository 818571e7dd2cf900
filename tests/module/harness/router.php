<?php
// `php -S 127.0.0.1:PORT router.php`: serves the queuecallback page the way FreePBX's config.php and ajax.php
// would (same URLs, doConfigPageInit before the page, the action bar, AJAX whitelist, Referer check).
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
require __DIR__ . '/bootstrap.php';

function harness_send_file($file, $type) {
	if (!is_file($file)) {
		http_response_code(404);
		return;
	}
	header('Content-Type: ' . $type);
	readfile($file);
}

// The Referer host must match when a change is posted (config.php CHECKREFERER; Ajax.class.php allowremote=false).
function harness_referer_ok() {
	if (empty($_SERVER['HTTP_REFERER'])) {
		return false;
	}
	return parse_url($_SERVER['HTTP_REFERER'], PHP_URL_HOST) === parse_url('http://' . $_SERVER['HTTP_HOST'], PHP_URL_HOST);
}

if (preg_match('#^/admin/assets/queuecallback/(js|css)/([A-Za-z0-9_.-]+)$#', $path, $m)) {
	harness_send_file(QCB_MODULE_DIR . "/assets/{$m[1]}/{$m[2]}", $m[1] === 'js' ? 'application/javascript' : 'text/css');
	return true;
}
if ($path === '/vendor/bootstrap.css') {
	harness_send_file('/usr/share/javascript/bootstrap4/css/bootstrap.min.css', 'text/css');
	return true;
}

if ($path === '/admin/ajax.php') {
	header('Content-Type: application/json');
	$module = isset($_REQUEST['module']) ? $_REQUEST['module'] : '';
	$command = isset($_REQUEST['command']) ? $_REQUEST['command'] : '';
	if ($module !== 'queuecallback' || !preg_match('/^[\w-]{3,99}$/', $module)) {
		http_response_code(400);
		echo json_encode(array('error' => 'unknown module'));
		return true;
	}
	$setting = array('authenticate' => true, 'allowremote' => false);
	$bmo = FreePBX::Queuecallback();
	if (!$bmo->ajaxRequest($command, $setting)) {
		http_response_code(403);
		echo json_encode(array('error' => 'ajaxRequest declined'));
		return true;
	}
	if (empty($setting['allowremote']) && !harness_referer_ok()) {
		http_response_code(403);
		echo json_encode(array('error' => 'referer'));
		return true;
	}
	$reply = $bmo->ajaxHandler();
	if ($reply === false) {
		http_response_code(500);
	}
	echo json_encode(is_array($reply) ? $reply : array('status' => (bool)$reply, 'message' => is_string($reply) ? $reply : 'unknown'));
	return true;
}

if ($path === '/admin/config.php') {
	$display = isset($_REQUEST['display']) ? $_REQUEST['display'] : '';
	if ($display !== 'queuecallback') {
		http_response_code(404);
		echo 'the harness serves only display=queuecallback';
		return true;
	}
	if (!empty($_REQUEST['action']) && !harness_referer_ok()) {
		http_response_code(403);
		echo 'Referer check failed';
		return true;
	}
	$bmo = FreePBX::Queuecallback();
	$bmo->doConfigPageInit($display);
	ob_start();
	include QCB_MODULE_DIR . '/page.queuecallback.php';
	$page = ob_get_clean();
	$bar = $bmo->getActionBar($_REQUEST);
	$reload = HarnessState::get('need_reload') ? '<div class="alert alert-info" id="need-reload">Apply Config</div>' : '';
	?><!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Queue Callback</title>
<link rel="stylesheet" href="/vendor/bootstrap.css">
<link rel="stylesheet" href="/admin/assets/queuecallback/css/queuecallback.css">
<style>body{padding:1em 1em 5em} #action-bar{position:fixed;bottom:0;left:0;right:0;padding:.6em 1em;background:#f3f3f3;border-top:1px solid #ccc;text-align:right} .radioset input{margin-left:.5em}</style>
</head><body>
<?php echo $reload; ?>
<?php echo $page; ?>
<?php if ($bar) { ?>
<div id="action-bar">
<?php foreach ($bar as $button) { ?>
	<input type="button" class="btn btn-primary" name="<?php echo htmlspecialchars($button['name']); ?>" id="<?php echo htmlspecialchars($button['id']); ?>" value="<?php echo htmlspecialchars($button['value']); ?>">
<?php } ?>
</div>
<script>
// FreePBX's script.legacy.js: the action bar submits (or resets) the visible form.fpbx-submit.
document.getElementById('action-bar').addEventListener('click', function (e) {
	var form = document.querySelector('form.fpbx-submit');
	if (!form || e.target.tagName !== 'INPUT') { return; }
	if (e.target.id === 'submit') { form.submit(); } else if (e.target.id === 'reset') { form.reset(); }
});
</script>
<?php } ?>
<script src="/admin/assets/queuecallback/js/queuecallback.js"></script>
</body></html>
<?php
	return true;
}

http_response_code(404);
echo 'not found';
return true;
