<?php
// FreePBX test bed: initialise FreePBX's database and settings with FreePBX's own installer library, in
// the order of the framework installer (tables, settings, amportal.conf, /etc/freepbx.conf).
// @...@ placeholders are filled by kit.sh.
$amp_conf = array('AMPDBENGINE' => 'mysql', 'AMPDBNAME' => 'asterisk', 'AMPDBHOST' => 'localhost',
  'AMPDBPORT' => '@DB_PORT@', 'AMPDBUSER' => 'freepbxuser', 'AMPDBPASS' => '@DBPASS@', 'datasource' => '',
  'CDRDBNAME' => 'asteriskcdrdb', 'AMPWEBROOT' => '/var/www/html', 'AMPBIN' => '/var/lib/asterisk/bin',
  'AMPSBIN' => '/usr/sbin', 'AMPCGIBIN' => '/var/www/cgi-bin', 'AMPPLAYBACK' => '/var/lib/asterisk/playback',
  'AMPASTERISKUSER' => 'asterisk', 'AMPASTERISKWEBUSER' => 'asterisk', 'AMPDEVUSER' => 'asterisk',
  'AMPASTERISKGROUP' => 'asterisk', 'AMPASTERISKWEBGROUP' => 'asterisk', 'AMPDEVGROUP' => 'asterisk',
  'AMPMANAGERHOST' => 'localhost', 'AMPMGRUSER' => 'admin', 'AMPMGRPASS' => '@MGRPASS@',
  'ASTMANAGERPORT' => '@AMI_PORT@', 'ASTMANAGERHOST' => '127.0.0.1', 'ASTETCDIR' => '/etc/asterisk',
  'ASTMODDIR' => '/usr/lib/x86_64-linux-gnu/asterisk/modules', 'ASTVARLIBDIR' => '/var/lib/asterisk',
  'ASTAGIDIR' => '/var/lib/asterisk/agi-bin', 'ASTSPOOLDIR' => '/var/spool/asterisk',
  'ASTRUNDIR' => '/var/run/asterisk', 'ASTLOGDIR' => '/var/log/asterisk');
define('AMP_CONF', '/etc/amportal.conf');
define('ODBC_INI', '/etc/odbc.ini');
define('ASTERISK_CONF', '/etc/asterisk/asterisk.conf');
define('FILES_DIR', '/usr/src/fwsrc/installlib/files');
define('SQL_DIR', '/usr/src/fwsrc/installlib/SQL');
define('MODULE_DIR', '/var/www/html/admin/modules');
define('UPGRADE_DIR', '/usr/src/fwsrc/upgrades');
require_once('/var/www/html/admin/libraries/Composer/vendor/autoload.php');
require_once('/var/www/html/admin/functions.inc.php');
require_once('/var/www/html/admin/libraries/BMO/FreePBX.class.php');
require_once('/var/www/html/admin/libraries/DB.class.php');
require_once('/usr/src/fwsrc/installlib/installer.class.php');
global $db;
$installer = new \FreePBX\Install\Installer();
$bmo = new \FreePBX($amp_conf);
$pdo = new \FreePBX\Database('mysql:host=localhost', 'root', '');
$db = new \DB($pdo);
$fwxml = simplexml_load_file('/var/www/html/admin/modules/framework/module.xml');
$fwver = (string)$fwxml->version;
$db->query('USE asterisk');
if (!$db->getOne("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'asterisk'")) {
  $pdo->migrateMultipleXML($fwxml->database->table);
  $installer->install_sql_file(SQL_DIR . '/asterisk.sql');
  $db->query("INSERT INTO admin (variable,value) VALUES ('version','" . $fwver . "')");
}
$db->query('USE asteriskcdrdb');
if (!$db->getOne("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'asteriskcdrdb'")) {
  $installer->install_sql_file(SQL_DIR . '/cdr.sql');
}
$db->query('USE asterisk');
$wanted = $amp_conf;
$installer->freepbx_settings_init(true);
$freepbx_conf = \freepbx_conf::create();
foreach ($wanted as $k => $v) {
  if ($freepbx_conf->conf_setting_exists($k) && $amp_conf[$k] != $v) {
    $freepbx_conf->set_conf_values(array($k => $v), false, true);
  }
}
$freepbx_conf->commit_conf_settings();
$installer->set_version($fwver);
file_put_contents(AMP_CONF, $freepbx_conf->amportal_generate(true));
$conf = "<?php\n";
foreach (array('AMPDBUSER' => 'freepbxuser', 'AMPDBPASS' => '@DBPASS@', 'AMPDBHOST' => 'localhost',
  'AMPDBPORT' => '@DB_PORT@', 'AMPDBNAME' => 'asterisk', 'AMPDBENGINE' => 'mysql', 'datasource' => '') as $k => $v) {
  $conf .= "\$amp_conf['$k'] = '$v';\n";
}
$conf .= "require_once('/var/www/html/admin/bootstrap.php');\n?>\n";
file_put_contents('/etc/freepbx.conf', $conf);
echo "kit: framework $fwver database initialised\n";
