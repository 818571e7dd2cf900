<?php
// The two foreign keys of the freepbx-callback tables (qcb_attempts and qcb_events → qcb_requests, ON DELETE
// CASCADE), which `freepbx-callback db migrate` adds (freepbx_callback/schema.py) and module.xml's <database>
// cannot declare.
//
// FreePBX migrates <database> with Doctrine DBAL before the module's install() runs. Doctrine reads a foreign
// key whose columns are not exactly the columns of some index as needing an implicit index "IDX_<hash>" that
// the database does not have, and its migration then fails on "Can't DROP INDEX IDX_...". module.xml declares
// an index on request_id alone in both tables (schema migration 5), so Doctrine has nothing to invent. Tables
// that an earlier build made lack those indexes: before FreePBX's table step (module.xml <fileinclude>,
// install.inc.php) their foreign keys are dropped, and install() → db migrate adds them back right after.
// uninstall() drops both, so that FreePBX can drop the tables in any order.
namespace FreePBX\modules\Queuecallback;

class ForeignKeys {
	/** table => foreign key on its request_id */
	const KEYS = array(
		'qcb_attempts' => 'fk_attempt_request',
		'qcb_events' => 'fk_event_request',
	);

	/**
	 * Drop the foreign keys FreePBX's table step would stumble on: those whose table has no index on
	 * request_id alone. Returns "table.key" for each one dropped.
	 */
	public static function beforeTableStep(\PDO $db) {
		$dropped = array();
		foreach (self::KEYS as $table => $key) {
			if (!self::exists($db, $table, $key) || self::hasOwnIndex($db, $table)) {
				continue;
			}
			$db->exec("ALTER TABLE `$table` DROP FOREIGN KEY `$key`");
			$dropped[] = "$table.$key";
		}
		return $dropped;
	}

	/** Drop both foreign keys where they exist (uninstall: FreePBX then drops the tables in any order). */
	public static function dropAll(\PDO $db) {
		foreach (self::KEYS as $table => $key) {
			try {
				$db->exec("ALTER TABLE `$table` DROP FOREIGN KEY IF EXISTS `$key`");
			} catch (\Exception $e) {
				// The table is already gone: nothing to loosen.
			}
		}
	}

	private static function exists(\PDO $db, $table, $key) {
		$stmt = $db->prepare('SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = ?');
		$stmt->execute(array($table, $key));
		return (int)$stmt->fetchColumn() > 0;
	}

	/** Whether some index of $table has exactly the one column request_id. */
	private static function hasOwnIndex(\PDO $db, $table) {
		$stmt = $db->prepare("SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? GROUP BY INDEX_NAME HAVING GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) = 'request_id'");
		$stmt->execute(array($table));
		return $stmt->fetchColumn() !== false;
	}
}
