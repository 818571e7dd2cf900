<?php
// Run by FreePBX before it migrates module.xml's <database> tables, on every install and upgrade of this
// module (module.xml <fileinclude>; admin/libraries/modulefunctions.class.php install()): lib/ForeignKeys.php
// says why. install() then runs `freepbx-callback db migrate`, which adds the foreign keys back.
if (!class_exists('FreePBX', false)) {
	return true;
}
require_once __DIR__ . '/lib/ForeignKeys.php';
try {
	$qcbDropped = \FreePBX\modules\Queuecallback\ForeignKeys::beforeTableStep(\FreePBX::Database());
	if ($qcbDropped && function_exists('out')) {
		out(sprintf('Foreign keys %s dropped for the table update (db migrate adds them back)', implode(', ', $qcbDropped)));
	}
} catch (\Exception $e) {
	// Never stop the install here: the table step that follows reports what it cannot do.
	if (function_exists('out')) {
		out('Could not check the foreign keys before the table update: ' . $e->getMessage());
	}
}
unset($qcbDropped);
return true;
