<?php
// FreePBX test bed fixtures, made with FreePBX's own APIs (as the GUI makes them):
// - extension 1002 (custom device dialing PJSIP/agent, a SIPp agent), member of queues 400 and 401;
// - DIDs 5551000 -> queue 400 "Support" and 5551001 -> queue 401 "Russian support";
// - trunk "pstn" (custom PJSIP/$OUTNUM$@pstn, a SIPp customer) and outbound route "customers" (555XXXX)
//   whose route caller ID overrides the extension's (5559999): the callback's caller ID must survive it.
$bootstrap_settings['freepbx_auth'] = false;
include '/etc/freepbx.conf';
$core = \FreePBX::Core();
if (!$core->getUser('1002')) {
  $core->processQuickCreate('custom', '1002', array('name' => 'Agent Two', 'outboundcid' => '', 'vm' => 'no', 'email' => ''));
}
\FreePBX::Database()->query("UPDATE devices SET dial='PJSIP/agent' WHERE id='1002'");
$queues = array('400' => array('Support', '5551000'), '401' => array('Russian support', '5551001'));
foreach ($queues as $q => $info) {
  if (!function_exists('queues_get')) {
    include_once '/var/www/html/admin/modules/queues/functions.inc.php';
  }
  $have = queues_get($q);
  if (empty($have) || empty($have['name'])) {
    $_REQUEST = $_POST = array(
      'display' => 'queues', 'action' => 'add', 'account' => $q, 'name' => $info[0], 'members' => "1002,0",
      'goto0' => 'app-blackhole', 'app-blackhole0' => 'app-blackhole,hangup,1', 'strategy' => 'ringall',
      'timeout' => '15', 'retry' => '5', 'maxwait' => '', 'joinempty' => 'yes', 'leavewhenempty' => 'no',
      'announceposition' => 'no', 'announceholdtime' => 'no', 'music' => 'default', 'password' => '',
      'prefix' => '', 'cwignore' => '0', 'qregex' => '', 'queuewait' => '0', 'use_queue_context' => '0',
      'dynmembers' => '', 'dynmemberonly' => 'no', 'togglehint' => '0', 'qnoanswer' => '0',
      // the rest of the queue form's fields, with the form's defaults (queues_add reads each one)
      'maxlen' => '0', 'wrapuptime' => '0', 'announcefreq' => '0', 'min-announce' => '15', 'pannouncefreq' => '0',
      'recording' => 'dontcare', 'autopause' => 'no', 'autopausebusy' => 'no', 'autopausedelay' => '0',
      'autopauseunavail' => 'no', 'autofill' => 'no', 'breakouttype' => 'none', 'announcemenu' => 'none',
      'callback' => 'none', 'eventmemberstatus' => 'no', 'eventwhencalled' => 'no', 'memberdelay' => '0',
      'penaltymemberslimit' => '0', 'reportholdtime' => 'no', 'rtone' => '0', 'rvol_mode' => 'dontcare',
      'rvolume' => '0', 'servicelevel' => '60', 'skip_joinannounce' => '', 'timeoutpriority' => 'app',
      'timeoutrestart' => 'no', 'weight' => '0', 'answered_elsewhere' => '0',
    );
    \FreePBX::Queues()->doConfigPageInit('queues');
    echo "queue $q added\n";
  }
  $found = false;
  foreach (core_did_list() as $d) {
    if ($d['extension'] == $info[1]) { $found = true; }
  }
  if (!$found) {
    core_did_add(array('extension' => $info[1], 'cidnum' => '', 'description' => $info[0]), "ext-queues,$q,1");
    echo "did {$info[1]} -> queue $q\n";
  }
}
$tid = null;
foreach ($core->listTrunks() as $t) {
  if ($t['name'] == 'pstn') { $tid = $t['trunkid']; }
}
if (!$tid) {
  $tid = core_trunks_add('custom', 'PJSIP/$OUTNUM$@pstn', '', '', '', '', '', '', '', 'off', '', 'off', 'pstn');
  echo "trunk $tid\n";
}
$have = false;
foreach (core_routing_list() as $r) {
  if ($r['name'] == 'customers') { $have = true; }
}
if (!$have) {
  core_routing_addbyid('customers', '5559999', 'override_extension', '', '', '', 'default', '',
    array(array('match_pattern_prefix' => '', 'match_pattern_pass' => '555XXXX', 'match_cid' => '', 'prepend_digits' => '')),
    array($tid));
  echo "route customers (caller ID override 5559999)\n";
}
needreload();
