<?php
// BMO methods and page actions of the queuecallback module on the harness, against the real MariaDB and the
// real freepbx-callback CLI (QCB_DSN / QCB_CLI from tests/module/test_php.py).

use FreePBX\modules\Queuecallback;
use FreePBX\modules\Queuecallback\CliRunner;
use PHPUnit\Framework\TestCase;

class QueuecallbackTest extends TestCase {
	/** @var PDO */
	private $db;

	protected function setUp(): void {
		HarnessState::reset();
		FreePBX::reset();
		$this->db = FreePBX::create()->Database;
		$this->db->exec('CREATE TABLE IF NOT EXISTS queues_config (extension VARCHAR(20) NOT NULL PRIMARY KEY, descr VARCHAR(35) NOT NULL DEFAULT \'\', ivr_id VARCHAR(8) NOT NULL DEFAULT \'0\', callback_id VARCHAR(8) NOT NULL DEFAULT \'\')');
		$this->db->exec('DELETE FROM queues_config');
		$this->db->exec("INSERT INTO queues_config (extension, descr, ivr_id, callback_id) VALUES ('400', 'Sales', 'none', ''), ('401', 'Support', '3', ''), ('402', '<script>alert(1)</script>', '', 'none')");
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 0');
		foreach (array('qcb_events', 'qcb_attempts', 'qcb_requests', 'qcb_queues') as $table) {
			$this->db->exec("DELETE FROM $table");
		}
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 1');
		$_REQUEST = $_POST = $_GET = array();
		$_SERVER['REQUEST_METHOD'] = 'GET';
		foreach (array('EXIT', 'DIALPLAN', 'ARGS', 'DOCTOR', 'DOCTOR_EXIT', 'QUEUE_HELP', 'DELETE_EXIT', 'BACKUP', 'BACKUP_EXIT', 'RESTORED') as $name) {
			putenv('QCB_STUB_' . $name);
		}
	}

	private function module($cliPath = null) {
		$module = new Queuecallback(FreePBX::create(), new CliRunner($cliPath));
		FreePBX::create()->inject('Queuecallback', $module);
		return $module;
	}

	private function cli(array $args) {
		$result = (new CliRunner())->run($args);
		$this->assertSame(0, $result['exit'], $result['stderr']);
		return $result['stdout'];
	}

	private function queueRow($queue) {
		$stmt = $this->db->prepare('SELECT * FROM qcb_queues WHERE queue = ?');
		$stmt->execute(array($queue));
		return $stmt->fetch(PDO::FETCH_ASSOC);
	}

	private function requestStatus($id) {
		$stmt = $this->db->prepare('SELECT status FROM qcb_requests WHERE id = ?');
		$stmt->execute(array($id));
		return $stmt->fetchColumn();
	}

	private function addRequest($queue, $number) {
		$this->cli(array('queue', 'set', $queue, '--enable'));
		$out = json_decode($this->cli(array('request', 'add', $queue, $number, '--json')), true);
		return (int)$out['request']['id'];
	}

	private function post(array $fields) {
		$_SERVER['REQUEST_METHOD'] = 'POST';
		$_POST = $fields;
		$_REQUEST = array_merge($_GET, $fields);
	}

	/** The stub CLI (harness/stub-cli.sh) with $name's answer in a file; returns the stub's path. */
	private function stub($name = null, $content = null) {
		if ($name !== null) {
			$file = HarnessState::dir() . '/stub-' . strtolower($name);
			file_put_contents($file, is_string($content) ? $content : json_encode($content));
			putenv('QCB_STUB_' . $name . '=' . $file);
		}
		putenv('QCB_REAL_CLI=' . CliRunner::locate());
		return __DIR__ . '/../harness/stub-cli.sh';
	}

	private function stubDialplan(array $data) {
		return $this->stub('DIALPLAN', $data);
	}

	private function notices() {
		return HarnessState::get('notifications', array());
	}

	// --- install / uninstall --------------------------------------------------------------------------

	public function testInstallMigratesAndRegistersTheDialerAndHealthJobs() {
		$this->module()->install();
		$jobs = FreePBX::Job()->getAll();
		$this->assertCount(2, $jobs);
		$this->assertSame('queuecallback', $jobs[0]['modulename']);
		$this->assertSame('dial', $jobs[0]['jobname']);
		$this->assertSame(CliRunner::locate() . ' dial', $jobs[0]['command']);
		$this->assertSame('* * * * *', $jobs[0]['schedule']);
		$this->assertSame('health', $jobs[1]['jobname']);
		$this->assertNull($jobs[1]['command']);
		// FreePBX's Job runner takes a class that implements its TaskInterface, found by its autoloader.
		$this->assertTrue(class_exists($jobs[1]['class']));
		$this->assertContains('FreePBX\\Job\\TaskInterface', class_implements($jobs[1]['class']));
		$this->assertGreaterThan(0, (int)$this->db->query('SELECT MAX(version) FROM qcb_schema')->fetchColumn());
	}

	public function testInstallWithoutTheCliFailsWithAClearMessage() {
		$module = $this->module('/nonexistent/bin/freepbx-callback');
		try {
			$module->install();
			$this->fail('install() succeeded without the CLI');
		} catch (Exception $e) {
			$this->assertStringContainsString('/nonexistent/bin/freepbx-callback', $e->getMessage());
			$this->assertStringContainsString('Install the Python package first', $e->getMessage());
		}
		$this->assertSame(array(), FreePBX::Job()->getAll());
	}

	public function testInstallBuildsThePythonRuntimeFromWheelsUnlessQcbCliNamesTheCommand() {
		// module_xml/ has no wheels/ (package.py adds them to the tarball): install() must go to lib/Runtime.php
		// for the runtime and stop with its message, before it touches anything.
		$given = getenv('QCB_CLI');
		putenv('QCB_CLI');
		try {
			$module = new Queuecallback(FreePBX::create());
			$module->install();
			$this->fail('install() did not build the runtime');
		} catch (\FreePBX\modules\Queuecallback\RuntimeError $e) {
			$this->assertStringContainsString(QCB_MODULE_DIR . '/wheels/manifest.json', $e->getMessage());
			$this->assertStringContainsString('make package', $e->getMessage());
		} finally {
			putenv('QCB_CLI=' . $given);
		}
		$this->assertSame(array(), FreePBX::Job()->getAll());
		$this->assertFalse($module->getConfig('cli_path'));
	}

	public function testTheCliIsFoundWhereTheRuntimeIsBuilt() {
		$given = getenv('QCB_CLI');
		putenv('QCB_CLI');
		$varlib = HarnessState::dir() . '/varlib';
		try {
			$this->assertSame($varlib . '/freepbx-callback/current/bin/freepbx-callback', CliRunner::candidates($varlib)[0]);
			$this->assertSame(array(
				$varlib . '/freepbx-callback/current/bin/freepbx-callback',
				'/usr/local/bin/freepbx-callback',
				'/opt/freepbx-callback/venv/bin/freepbx-callback',
				$varlib . '/freepbx-callback/venv/bin/freepbx-callback',
				'/usr/bin/freepbx-callback',
			), CliRunner::candidates($varlib));
			@mkdir($varlib . '/freepbx-callback/venv/bin', 0777, true);
			$cli = $varlib . '/freepbx-callback/venv/bin/freepbx-callback';
			file_put_contents($cli, "#!/bin/sh\necho 'freepbx-callback, version 9'\n");
			chmod($cli, 0755);
			@symlink($varlib . '/freepbx-callback/venv', $varlib . '/freepbx-callback/current');
			$this->assertSame($varlib . '/freepbx-callback/current/bin/freepbx-callback', CliRunner::locate(null, $varlib));
			$this->assertSame('explicit', CliRunner::locate('explicit', $varlib));
		} finally {
			putenv('QCB_CLI=' . $given);
		}
		$this->assertSame($given, CliRunner::locate(null, $varlib));
	}

	public function testUninstallRemovesWhatInstallAndReloadAdded() {
		$module = $this->module();
		$module->install();
		FreePBX::Cron()->addLine('* * * * * /usr/local/bin/freepbx-callback dial >/dev/null 2>&1');
		FreePBX::Cron()->addLine('0 3 * * * /usr/sbin/logrotate');
		$agi = FreePBX::Config()->get('ASTAGIDIR');
		@mkdir($agi, 0777, true);
		file_put_contents("$agi/qcb-request.agi", "#!/bin/sh\n");
		file_put_contents("$agi/queue_devstate.agi", "#!/bin/sh\n");
		$sounds = FreePBX::Config()->get('ASTVARLIBDIR') . '/sounds/en';
		@mkdir($sounds, 0777, true);
		@unlink("$sounds/qcb-offer.wav");
		symlink('/var/www/html/admin/modules/queuecallback/sounds/en/qcb-offer.wav', "$sounds/qcb-offer.wav");
		file_put_contents("$sounds/qcb-mine.wav", 'not a link');

		$module->uninstall();

		$this->assertSame(array(), FreePBX::Job()->getAll());
		$this->assertSame(array('0 3 * * * /usr/sbin/logrotate'), FreePBX::Cron()->getAll());
		$this->assertFileDoesNotExist("$agi/qcb-request.agi");
		$this->assertFileExists("$agi/queue_devstate.agi");
		$this->assertFalse(is_link("$sounds/qcb-offer.wav"));
		$this->assertFileExists("$sounds/qcb-mine.wav");
		$fks = $this->db->query("SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME IN ('qcb_attempts', 'qcb_events')")->fetchColumn();
		$this->assertSame(0, (int)$fks);
		// Put the foreign keys back for the next tests (db migrate does not recreate them on existing tables).
		$this->db->exec('ALTER TABLE qcb_attempts ADD CONSTRAINT fk_attempt_request FOREIGN KEY (request_id) REFERENCES qcb_requests (id) ON DELETE CASCADE');
		$this->db->exec('ALTER TABLE qcb_events ADD CONSTRAINT fk_event_request FOREIGN KEY (request_id) REFERENCES qcb_requests (id) ON DELETE CASCADE');
	}

	private function foreignKeys() {
		return $this->db->query("SELECT CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'qcb\\_%' ORDER BY 1")->fetchAll(PDO::FETCH_COLUMN);
	}

	public function testBeforeTheTableStepOnlyForeignKeysWithoutTheirOwnIndexGo() {
		require_once QCB_MODULE_DIR . '/lib/ForeignKeys.php';
		$both = array('qcb_attempts.fk_attempt_request', 'qcb_events.fk_event_request');
		$this->assertSame($both, $this->foreignKeys());
		// tables as db migrate makes them (schema 5): FreePBX's table step has nothing to stumble on
		$this->assertSame(array(), \FreePBX\modules\Queuecallback\ForeignKeys::beforeTableStep($this->db));
		$this->assertSame($both, $this->foreignKeys());
		// qcb_attempts as an earlier build made it: only (request_id, attempt_no) holds request_id
		$this->db->exec('DROP INDEX ix_attempt_request ON qcb_attempts');
		try {
			$this->assertSame(array('qcb_attempts.fk_attempt_request'), \FreePBX\modules\Queuecallback\ForeignKeys::beforeTableStep($this->db));
			$this->assertSame(array('qcb_events.fk_event_request'), $this->foreignKeys());
		} finally {
			$this->db->exec('CREATE INDEX IF NOT EXISTS ix_attempt_request ON qcb_attempts (request_id)');
		}
		// what install() runs next puts it back
		$this->cli(array('db', 'migrate'));
		$this->assertSame($both, $this->foreignKeys());
	}

	public function testCronFallbackWhenThereIsNoJobScheduler() {
		$freepbx = new class extends FreePBX {
			public function __get($name) {
				if ($name === 'Job') {
					throw new Exception('Unable to find the Class Job');
				}
				return FreePBX::create()->$name;
			}
		};
		$module = new Queuecallback($freepbx, new CliRunner());
		$module->registerDialer();
		$lines = FreePBX::Cron()->getAll();
		$this->assertCount(1, $lines);
		$this->assertSame('* * * * * ' . escapeshellarg(CliRunner::locate()) . ' dial >/dev/null 2>&1', $lines[0]);
		$module->unregisterDialer();
		$this->assertSame(array(), FreePBX::Cron()->getAll());
	}

	// --- page actions ---------------------------------------------------------------------------------

	private function form(array $overrides = array()) {
		return array_merge(array(
			'action' => 'save', 'queue' => '400', 'enabled' => '1', 'did' => '+15551000', 'attempts' => '3',
			'retry_interval' => '2m', 'window' => '900', 'offer_every' => '45', 'mode' => 'customer-first',
			'notify_agents' => '0', 'language' => 'ru', 'max_pending' => '', 'block_patterns' => "_1900NXXXXXX\n+44",
			'allow_patterns' => '', 'offer_recording' => 'default',
		), $overrides);
	}

	private function save(Queuecallback $module, array $fields) {
		$module->page()->errors = $module->page()->messages = array();
		$this->post($fields);
		$module->doConfigPageInit('queuecallback');
		return $module->page();
	}

	public function testSavingTheQueueFormWritesTheSettings() {
		$module = $this->module();
		$page = $this->save($module, $this->form());
		$this->assertSame(array(), $page->errors);
		$this->assertStringContainsString('Queue 400 saved', $page->messages[0]);
		$row = $this->queueRow('400');
		$this->assertSame('1', (string)$row['enabled']);
		$this->assertSame('+15551000', $row['did']);
		// "2m" is the CLI's duration syntax: the page passes what was typed.
		$this->assertSame(array('3', '120', '900', '45'), array((string)$row['attempts'], (string)$row['retry_interval'], (string)$row['window_s'], (string)$row['offer_every']));
		$this->assertSame('customer-first', $row['mode']);
		$this->assertSame('0', (string)$row['notify_agents']);
		$this->assertSame('ru', $row['language']);
		$this->assertNull($row['max_pending']);
		$this->assertStringContainsString('_1900NXXXXXX', $row['block_patterns']);
		$this->assertStringContainsString('+44', $row['block_patterns']);
		$this->assertTrue(HarnessState::get('need_reload'));

		// Saving again with fewer patterns replaces them (no merging with the old list); an empty DID clears it.
		$this->save($module, $this->form(array('block_patterns' => '+44', 'enabled' => '0', 'did' => '')));
		$row = $this->queueRow('400');
		$this->assertSame('0', (string)$row['enabled']);
		$this->assertNull($row['did']);
		$this->assertStringNotContainsString('1900', (string)$row['block_patterns']);
	}

	public function testTheFormSetsCallbackHoursOrAFreepbxTimeGroup() {
		$module = $this->module();
		$page = $this->save($module, $this->form(array('hours' => "mon-fri 09:00-17:00\r\nsat 10:00-14:00\r\n", 'timezone' => 'Europe/Moscow', 'timegroup' => '')));
		$this->assertSame(array(), $page->errors);
		$row = $this->queueRow('400');
		$this->assertSame('mon-fri 09:00-17:00; sat 10:00-14:00', $row['hours']);
		$this->assertSame('Europe/Moscow', $row['timezone']);
		$this->assertNull($row['timegroup']);

		// FreePBX's Time Groups (the timeconditions module's tables) are offered on the form, and one is chosen.
		$this->db->exec('CREATE TABLE IF NOT EXISTS timegroups_groups (id INT AUTO_INCREMENT PRIMARY KEY, description VARCHAR(50) NOT NULL DEFAULT \'\')');
		$this->db->exec('CREATE TABLE IF NOT EXISTS timegroups_details (id INT AUTO_INCREMENT PRIMARY KEY, timegroupid INT NOT NULL DEFAULT 0, time VARCHAR(100) NOT NULL DEFAULT \'\')');
		$this->db->exec("INSERT INTO timegroups_groups (id, description) VALUES (7, 'Office hours')");
		$this->db->exec("INSERT INTO timegroups_details (timegroupid, time) VALUES (7, '09:00-17:00|mon-fri|*|*')");
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('<option value="7">Office hours</option>', $html);
		$this->assertStringContainsString("mon-fri 09:00-17:00\nsat 10:00-14:00</textarea>", $html);
		$page = $this->save($module, $this->form(array('timegroup' => '7', 'hours' => '')));
		$this->assertSame(array(), $page->errors);
		$row = $this->queueRow('400');
		$this->assertSame('7', (string)$row['timegroup']);
		$this->assertNull($row['hours']);
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('<option value="7" selected>Office hours</option>', $html);
		$this->db->exec('DROP TABLE timegroups_details');
		$this->db->exec('DROP TABLE timegroups_groups');
	}

	public function testEmptyFieldsLeaveTheValuesToTheCli() {
		$module = $this->module();
		$page = $this->save($module, array('action' => 'save', 'queue' => '400', 'enabled' => '1', 'attempts' => '', 'mode' => '', 'language' => ''));
		$this->assertSame(array(), $page->errors);
		$shown = json_decode($this->cli(array('queue', 'show', '400', '--json')), true);
		$row = $this->queueRow('400');
		$this->assertSame((string)$shown['attempts'], (string)$row['attempts']);
		$this->assertSame($shown['mode'], $row['mode']);
		$this->assertSame($shown['language'], $row['language']);
	}

	public function testTheCliChecksTheInputAndItsMessageIsShown() {
		$module = $this->module();
		$cases = array(
			array('attempts' => '99'),
			array('did' => 'x;Dial(1)'),
			array('mode' => 'both'),
			array('language' => 'xx'),
			array('retry_interval' => 'soon'),
			array('block_patterns' => '_1[23'),
			array('queue' => '400;rm -rf /'),
		);
		foreach ($cases as $case) {
			$page = $this->save($module, $this->form($case));
			$this->assertCount(1, $page->errors, json_encode($case));
			$this->assertStringNotContainsString('Traceback', $page->errors[0]);
			$this->assertStringNotContainsString('Usage:', $page->errors[0]);
			$this->assertSame('form', $_REQUEST['view']);
		}
		$this->assertSame(0, (int)$this->db->query('SELECT COUNT(*) FROM qcb_queues')->fetchColumn());
		$this->assertStringContainsString('99', $this->save($module, $this->form(array('attempts' => '99')))->errors[0]);
		$this->assertStringContainsString('DID', $this->save($module, $this->form(array('did' => 'x;Dial(1)')))->errors[0]);
	}

	public function testTypedValuesNeverBecomeOptions() {
		$this->cli(array('queue', 'set', '400', '--enable'));
		$module = $this->module();
		$page = $this->save($module, $this->form(array('did' => '--disable', 'attempts' => '--no-notify-agents')));
		$this->assertNotEmpty($page->errors);
		$row = $this->queueRow('400');
		$this->assertSame('1', (string)$row['enabled']);
		$this->assertSame('1', (string)$row['notify_agents']);
	}

	public function testAGetRequestChangesNothing() {
		$module = $this->module();
		$_GET = $_REQUEST = $this->form();
		$module->doConfigPageInit('queuecallback');
		$this->assertFalse($this->queueRow('400'));
	}

	public function testTheOfferRecordingIsStoredAsItsSoundName() {
		HarnessState::set('recordings', array(
			array('id' => '7', 'displayname' => 'Our offer', 'filename' => 'custom/our-offer', 'description' => ''),
			array('id' => '8', 'displayname' => 'Two parts', 'filename' => 'custom/a&custom/b', 'description' => ''),
		));
		$module = $this->module();
		$this->assertSame(array(), $this->save($module, $this->form(array('offer_recording' => '7')))->errors);
		$this->assertStringContainsString('offer=custom/our-offer', $this->queueRow('400')['prompts']);

		$page = $this->save($module, $this->form(array('offer_recording' => '999')));
		$this->assertStringContainsString('does not exist', implode(' ', $page->errors));

		$this->assertSame(array(), $this->save($module, $this->form(array('offer_recording' => 'default')))->errors);
		$this->assertStringNotContainsString('offer=', (string)$this->queueRow('400')['prompts']);
	}

	public function testCancelAndRetryFromThePage() {
		$id = $this->addRequest('400', '2015551234');
		$module = $this->module();
		$this->save($module, array('action' => 'cancel', 'id' => (string)$id));
		$this->assertSame('cancelled', $this->requestStatus($id));
		$page = $this->save($module, array('action' => 'retry', 'id' => (string)$id));
		$this->assertStringContainsString("Request $id will be called again", $page->messages[0]);
		$this->assertSame('pending', $this->requestStatus($id));
		$page = $this->save($module, array('action' => 'cancel', 'id' => '1 OR 1=1'));
		$this->assertStringContainsString('not a valid integer', end($page->errors));
		$page = $this->save($module, array('action' => 'cancel', 'id' => '-' . $id));
		$this->assertNotEmpty($page->errors);
		$this->assertSame('pending', $this->requestStatus($id));
	}

	public function testThePageShowsAndChangesTheTimeOfARequest() {
		$id = $this->addRequest('400', '2015551234');
		$module = $this->module();
		$at = gmdate('Y-m-d H:i', time() + 2 * 86400);
		$page = $this->save($module, array('action' => 'reschedule', 'id' => (string)$id, 'at' => $at));
		$this->assertSame(array(), $page->errors);
		$this->assertStringContainsString("Request $id will be called at $at:00 UTC", $page->messages[0]);
		$stmt = $this->db->prepare('SELECT next_attempt_at FROM qcb_requests WHERE id = ?');
		$stmt->execute(array($id));
		$this->assertStringStartsWith($at . ':00', (string)$stmt->fetchColumn());
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module()->showPage();
		$row = substr($html, strpos($html, 'data-request="' . $id . '"'));
		$this->assertStringContainsString($at . ':00', substr($row, 0, 2000));
		$this->assertStringContainsString('name="action" value="reschedule"', substr($row, 0, 2000));
		$page = $this->save($module, array('action' => 'reschedule', 'id' => (string)$id, 'at' => 'soon'));
		$this->assertNotEmpty($page->errors);
		$page = $this->save($module, array('action' => 'reschedule', 'id' => (string)$id, 'at' => '2000-01-01 10:00'));
		$this->assertStringContainsString('in the past', end($page->errors));
	}

	public function testTheQueueFormSwitchesTheCallersChoiceOfTime() {
		$module = $this->module();
		$page = $this->save($module, $this->form(array('offer_times' => '1')));
		$this->assertSame(array(), $page->errors);
		$this->assertSame('1', (string)$this->queueRow('400')['offer_times']);
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module()->showPage();
		$this->assertMatchesRegularExpression('/id="qcb-offer-times-yes" value="1" checked/', $html);
		$this->save($module, $this->form(array('offer_times' => '0')));
		$this->assertSame('0', (string)$this->queueRow('400')['offer_times']);
	}

	// --- AJAX -----------------------------------------------------------------------------------------

	public function testOnlyDeclaredAjaxCommandsAreAllowed() {
		$module = $this->module();
		$setting = array();
		foreach (array('requests', 'cancel', 'retry', 'savequeue', 'stats', 'queues', 'health') as $command) {
			$this->assertTrue($module->ajaxRequest($command, $setting), $command);
		}
		$this->assertFalse($module->ajaxRequest('delete', $setting));
		$this->assertFalse($module->ajaxRequest('', $setting));
	}

	public function testAjaxCancelRetryListAndStats() {
		$id = $this->addRequest('400', '2015551234');
		$other = $this->addRequest('400', '2015559876');
		$module = $this->module();

		$this->post(array('id' => (string)$id));
		$_REQUEST['command'] = 'cancel';
		$reply = $module->ajaxHandler();
		$this->assertTrue($reply['status'], $reply['message']);
		$this->assertSame('cancelled', $reply['request']['status']);
		$this->assertNotEmpty($reply['request']['closed_at']);
		$this->assertSame('cancelled', $this->requestStatus($id));

		$_SERVER['REQUEST_METHOD'] = 'GET';
		$_REQUEST = array('command' => 'requests', 'status' => 'pending');
		$reply = $module->ajaxHandler();
		$this->assertSame(array($other), array_map(function ($r) { return (int)$r['id']; }, $reply['requests']));

		$_REQUEST = array('command' => 'requests', 'status' => 'nonsense');
		$reply = $module->ajaxHandler();
		$this->assertFalse($reply['status']);
		$this->assertStringContainsString('nonsense', $reply['message']);

		$_REQUEST = array('command' => 'stats');
		$reply = $module->ajaxHandler();
		$this->assertSame(2, $reply['stats']['requested']);
		$this->assertSame(1, $reply['stats']['by_status']['cancelled']);

		$this->post(array('id' => (string)$id));
		$_REQUEST['command'] = 'retry';
		$this->assertTrue($module->ajaxHandler()['status']);
		$this->assertSame('pending', $this->requestStatus($id));
	}

	public function testAjaxChangesNeedPost() {
		$id = $this->addRequest('400', '2015551234');
		$module = $this->module();
		$_REQUEST = array('command' => 'cancel', 'id' => (string)$id);
		$reply = $module->ajaxHandler();
		$this->assertFalse($reply['status']);
		$this->assertSame('pending', $this->requestStatus($id));
	}

	public function testAjaxSaveQueue() {
		$module = $this->module();
		$this->post($this->form(array('queue' => '402', 'did' => '')));
		$_REQUEST['command'] = 'savequeue';
		$reply = $module->ajaxHandler();
		$this->assertTrue($reply['status'], $reply['message']);
		$this->assertSame('402', $reply['settings']['queue']);
		$this->assertNull($this->queueRow('402')['did']);
	}

	// --- rendering ------------------------------------------------------------------------------------

	public function testActionBarOnlyOnTheForm() {
		$module = $this->module();
		$this->assertSame(array(), $module->getActionBar(array('display' => 'queuecallback')));
		$this->assertSame(array(), $module->getActionBar(array('display' => 'queues', 'view' => 'form')));
		$bar = $module->getActionBar(array('display' => 'queuecallback', 'view' => 'form'));
		$this->assertSame(array('submit', 'reset'), array_keys($bar));
		$this->assertSame('submit', $bar['submit']['id']);
	}

	public function testThePageShowsQueuesRequestsAndStatsEscaped() {
		$this->addRequest('400', '2015551234');
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('id="qcb-requests"', $html);
		$this->assertStringContainsString('id="qcb-health"', $html);
		$this->assertStringContainsString('2015551234', $html);
		$this->assertStringContainsString('data-stat="median"', $html);
		$this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $html);
		$this->assertStringNotContainsString('<script>alert(1)', $html);
		$this->assertMatchesRegularExpression('/data-queue="401".*an IVR break-out \(IVR 3\)/s', $html);
		$this->assertDoesNotMatchRegularExpression('/data-queue="400"[^\n]*\n[^\n]*\n[^\n]*qcb-conflict/', $html);
	}

	public function testTheStatusFilterOffersWhatTheCliTakes() {
		$_REQUEST = array('display' => 'queuecallback', 'status' => 'cancelled');
		$html = $this->module()->showPage();
		$statuses = (new CliRunner())->choices(array('request', 'list'), '--status');
		$this->assertContains('cancelled', $statuses);
		preg_match_all('/<option value="([a-z]+)"/', substr($html, strpos($html, 'id="qcb-status"')), $m);
		$this->assertSame($statuses, array_slice($m[1], 0, count($statuses)));
		$this->assertStringContainsString('<option value="cancelled" selected>', $html);
	}

	public function testTheFormShowsSettingsAndRefusesAnUnknownQueue() {
		$this->cli(array('queue', 'set', '400', '--enable', '--did', '5551000'));
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('name="did" value="5551000"', $html);
		$this->assertMatchesRegularExpression('/id="qcb-enabled-yes" value="1" checked/', $html);
		$this->assertMatchesRegularExpression('/<option value="agent-first" selected>/', $html);
		$this->assertStringContainsString('class="fpbx-submit"', $html);

		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '"><script>');
		$html = $this->module()->showPage();
		$this->assertStringNotContainsString('"><script>', $html);
		$this->assertStringContainsString('There is no queue', $html);
		$this->assertStringContainsString('id="qcb-requests"', $html);
	}

	public function testTheFormOfAQueueWithoutSettingsShowsTheCliDefaults() {
		// `queue show --defaults` gives the CLI's defaults (callback off) for a queue never configured
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '402');
		$html = $this->module()->showPage();
		$this->assertMatchesRegularExpression('/id="qcb-enabled-no" value="0" checked/', $html);
		$this->assertMatchesRegularExpression('/id="qcb-notify-agents-yes" value="1" checked/', $html);
		$this->assertMatchesRegularExpression('/<option value="agent-first" selected>/', $html);
		$this->assertMatchesRegularExpression('/name="attempts" value="2"/', $html);
		$modes = (new CliRunner())->choices(array('queue', 'set'), '--mode');
		$this->assertContains('customer-first', $modes);
		foreach ($modes as $mode) {
			$this->assertMatchesRegularExpression('/<option value="' . $mode . '"( selected)?>/', $html);
		}
	}

	public function testTheFormOffersTheChoicesTheCliLists() {
		$help = "Options:\n  --mode [agent-first|customer-first|robot-first]\n                                  Who is called first.\n  --language [ru|en|de]           Language of the prompts.\n";
		$cli = $this->stub('QUEUE_HELP', $help);
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module($cli)->showPage();
		$this->assertStringContainsString('<option value="robot-first">robot-first</option>', $html);
		$this->assertStringContainsString('<option value="de">', $html);
	}

	// --- health -----------------------------------------------------------------------------------------

	private function doctor(array $report, $exit = 0) {
		putenv('QCB_STUB_DOCTOR_EXIT=' . $exit);
		return $this->stub('DOCTOR', $report);
	}

	public function testHealthShowsDoctorAndRaisesNotifications() {
		$cli = $this->doctor(array(
			'ok' => false,
			'checks' => array(
				array('check' => 'config', 'ok' => true, 'detail' => 'mysql://freepbx@localhost/asterisk'),
				array('check' => 'database', 'ok' => false, 'detail' => "cannot read /etc/freepbx.conf: permission denied", 'fix' => 'chgrp asterisk /etc/freepbx.conf'),
			),
			'journal' => array('waiting' => 3, 'oldest_age_s' => 420),
			'daemon' => array('up' => false, 'last_tick_at' => '2026-01-02T03:04:05Z', 'ami_ok' => false, 'node' => 'pbx1'),
		), 1);
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module($cli)->showPage();
		$this->assertStringContainsString('data-ok="0"', $html);
		$this->assertMatchesRegularExpression('/data-fact="daemon">not running \(node pbx1\)/', $html);
		$this->assertMatchesRegularExpression('/data-fact="last_tick">2026-01-02 03:04:05 UTC/', $html);
		$this->assertMatchesRegularExpression('/data-fact="ami">failed/', $html);
		$this->assertMatchesRegularExpression('/data-fact="journal">3 request\(s\) waiting, the oldest for 7 min/', $html);
		$this->assertMatchesRegularExpression('/data-check="database".*permission denied.*To fix: chgrp asterisk \/etc\/freepbx.conf/s', $html);
		$this->assertStringNotContainsString('data-check="config"', $html);
		$notices = $this->notices();
		$this->assertSame('critical', $notices['queuecallback/journal']['level']);
		$this->assertStringContainsString('3 callback request(s) wait in the local journal', $notices['queuecallback/journal']['extended']);
		$this->assertStringContainsString('/etc/freepbx.conf', $notices['queuecallback/journal']['extended']);
		$this->assertSame('warning', $notices['queuecallback/health']['level']);
		$this->assertStringContainsString('database: cannot read /etc/freepbx.conf: permission denied (fix: chgrp asterisk /etc/freepbx.conf)', $notices['queuecallback/health']['extended']);

		// All well again: both notifications go.
		$cli = $this->doctor(array(
			'ok' => true,
			'checks' => array(array('check' => 'database', 'ok' => true, 'detail' => 'connected')),
			'journal' => array('waiting' => 0, 'oldest_age_s' => null),
			'daemon' => array('up' => true, 'last_tick_at' => gmdate('Y-m-d\TH:i:s\Z'), 'ami_ok' => true, 'node' => 'pbx1'),
		));
		$html = $this->module($cli)->showPage();
		$this->assertStringContainsString('data-ok="1"', $html);
		$this->assertMatchesRegularExpression('/data-fact="journal">empty/', $html);
		$this->assertSame(array(), $this->notices());
	}

	public function testHealthFromAnOlderDoctorWithoutJournalOrDaemon() {
		$cli = $this->doctor(array('ok' => true, 'checks' => array(array('check' => 'schema', 'ok' => true, 'detail' => 'version 3'))));
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module($cli)->showPage();
		$this->assertStringContainsString('data-ok="1"', $html);
		$this->assertMatchesRegularExpression('/data-fact="daemon">not reported/', $html);
		$this->assertMatchesRegularExpression('/data-fact="journal">unknown/', $html);
		$this->assertSame(array(), $this->notices());
	}

	public function testHealthWithTheRealDoctor() {
		$report = $this->module()->health()->check();
		$this->assertSame('', $report['error']);
		$names = array_map(function ($c) { return $c['check']; }, $report['checks']);
		$this->assertContains('database', $names);
	}

	public function testHealthWhenTheCliCannotRun() {
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module('/nonexistent/freepbx-callback')->showPage();
		$this->assertStringContainsString('doctor did not answer: cannot run /nonexistent/freepbx-callback', $html);
		$this->assertStringContainsString('data-ok="0"', $html);
		$this->assertArrayHasKey('queuecallback/health', $this->notices());
	}

	public function testTheHealthJobRunsDoctor() {
		$this->module($this->doctor(array('ok' => false, 'checks' => array(array('check' => 'database', 'ok' => false, 'detail' => 'down'))), 1));
		$output = new class {
			public $lines = array();
			public function writeln($line) { $this->lines[] = $line; }
		};
		$this->assertTrue(\FreePBX\modules\Queuecallback\Job::run(null, $output));
		$this->assertSame(array('queuecallback: database: down'), $output->lines);
		$this->assertArrayHasKey('queuecallback/health', $this->notices());
	}

	// --- queue form tab -------------------------------------------------------------------------------

	public function testTheQueueFormTabShowsAndSavesTheFlags() {
		$this->cli(array('queue', 'set', '400', '--enable', '--no-notify-agents'));
		$module = $this->module();
		$_REQUEST = array('display' => 'queues', 'view' => 'form', 'extdisplay' => '400');
		$tabs = $module->queuesTab();
		$this->assertSame('queuecallback', $tabs[0]['rawname']);
		$this->assertSame('Callback', $tabs[0]['title']);
		$this->assertMatchesRegularExpression('/id="qcb_enabledyes" value="1" checked/', $tabs[0]['content']);
		$this->assertMatchesRegularExpression('/id="qcb_notify_agentsno" value="0" checked/', $tabs[0]['content']);

		$this->assertSame(array('queues'), $module->myConfigPageInits());
		$_REQUEST = array('display' => 'queues', 'action' => 'edit', 'account' => '400', 'qcb_present' => '1', 'qcb_enabled' => '0', 'qcb_notify_agents' => '1');
		$module->doConfigPageInit('queues');
		$row = $this->queueRow('400');
		$this->assertSame(array('0', '1'), array((string)$row['enabled'], (string)$row['notify_agents']));
	}

	public function testTheQueueFormTabShowsAndSavesTheAnnouncePosition() {
		$this->cli(array('queue', 'set', '400', '--enable'));
		$module = $this->module();
		$_REQUEST = array('display' => 'queues', 'view' => 'form', 'extdisplay' => '400');
		$tabs = $module->queuesTab();
		// off by default
		$this->assertMatchesRegularExpression('/id="qcb_announce_positionno" value="0" checked/', $tabs[0]['content']);
		$_REQUEST = array('display' => 'queues', 'action' => 'edit', 'account' => '400', 'qcb_present' => '1', 'qcb_enabled' => '1', 'qcb_announce_position' => '1');
		$module->doConfigPageInit('queues');
		$row = $this->queueRow('400');
		$this->assertSame(array('1', '1'), array((string)$row['enabled'], (string)$row['announce_position']));
		$_REQUEST = array('display' => 'queues', 'view' => 'form', 'extdisplay' => '400');
		$tabs = $module->queuesTab();
		$this->assertMatchesRegularExpression('/id="qcb_announce_positionyes" value="1" checked/', $tabs[0]['content']);
		$_REQUEST = array('display' => 'queues', 'action' => 'edit', 'account' => '400', 'qcb_present' => '1', 'qcb_enabled' => '1', 'qcb_announce_position' => '0');
		$module->doConfigPageInit('queues');
		$this->assertSame('0', (string)$this->queueRow('400')['announce_position']);
	}

	public function testThePageFormShowsAndSavesTheAnnouncePosition() {
		$module = $this->module();
		$page = $this->save($module, $this->form(array('announce_position' => '1')));
		$this->assertSame(array(), $page->errors);
		$this->assertSame('1', (string)$this->queueRow('400')['announce_position']);
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$this->assertMatchesRegularExpression('/id="qcb-announce-position-yes" value="1" checked/', $this->module()->showPage());
		$this->save($module, $this->form(array('announce_position' => '0')));
		$this->assertSame('0', (string)$this->queueRow('400')['announce_position']);
	}

	public function testTheTabForANewQueueAndAnAddThatTheQueuesModuleRefused() {
		$module = $this->module();
		$_REQUEST = array('display' => 'queues', 'view' => 'form', 'extdisplay' => '');
		$tabs = $module->queuesTab();
		$this->assertMatchesRegularExpression('/id="qcb_enabledno" value="0" checked/', $tabs[0]['content']);
		$this->assertDoesNotMatchRegularExpression('/id="qcb_notify_agents(yes|no)" value="[01]" checked/', $tabs[0]['content']);
		$_REQUEST = array('action' => 'add', 'account' => '499', 'qcb_present' => '1', 'qcb_enabled' => '1');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('499'));
		// A queue save without our tab's fields (another form) leaves the settings alone.
		$_REQUEST = array('action' => 'edit', 'account' => '400');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('400'));
		// A queue without settings saved with callback left off gets none.
		$_REQUEST = array('action' => 'edit', 'account' => '400', 'qcb_present' => '1', 'qcb_enabled' => '0');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('400'));
		// An add of a number that is taken (here by queue 400 itself): the queues module refused it and left
		// extdisplay empty, so the existing queue keeps its settings.
		$_REQUEST = array('action' => 'add', 'account' => '400', 'extdisplay' => '', 'qcb_present' => '1', 'qcb_enabled' => '1');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('400'));
		// A successful add (the queues module set extdisplay to the new queue), switched on from the tab: stored,
		// with the CLI's values for the rest.
		$_REQUEST = array('action' => 'add', 'account' => '400', 'extdisplay' => '400', 'qcb_present' => '1', 'qcb_enabled' => '1');
		$module->doConfigPageInit('queues');
		$this->assertSame('1', (string)$this->queueRow('400')['enabled']);
	}

	public function testDeletingTheQueueForgetsItsSettingsAndCancelsItsRequests() {
		$id = $this->addRequest('400', '2015551234');
		$this->cli(array('queue', 'set', '401', '--enable'));
		$module = $this->module();
		// The queues module's own handler ran first and deleted queue 400.
		$this->db->exec("DELETE FROM queues_config WHERE extension = '400'");
		$_REQUEST = $_GET = array('display' => 'queues', 'action' => 'delete', 'account' => '400');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('400'));
		$this->assertSame('cancelled', $this->requestStatus($id));
		$this->assertSame('1', (string)$this->queueRow('401')['enabled']);
		// Deleting a queue that never had callback settings is quiet.
		$this->db->exec("DELETE FROM queues_config WHERE extension = '402'");
		$_REQUEST = array('display' => 'queues', 'action' => 'delete', 'account' => '402');
		$this->assertSame(array('status' => true), $module->doConfigPageInit('queues'));
		$this->assertSame(array(), $this->notices());
	}

	public function testAnEditIsNotADelete() {
		$id = $this->addRequest('400', '2015551234');
		$this->cli(array('queue', 'set', '400', '--did', '5551000', '--attempts', '4'));
		$module = $this->module();
		// FreePBX's edit is queues_del() + queues_add() inside the queues module: here it is action=edit.
		$_REQUEST = array('display' => 'queues', 'action' => 'edit', 'account' => '400', 'qcb_present' => '1', 'qcb_enabled' => '1', 'qcb_notify_agents' => '0');
		$module->doConfigPageInit('queues');
		$row = $this->queueRow('400');
		$this->assertSame(array('1', '0', '5551000', '4'), array((string)$row['enabled'], (string)$row['notify_agents'], $row['did'], (string)$row['attempts']));
		$this->assertSame('pending', $this->requestStatus($id));
		// A delete the queues module did not carry out (the queue is still there) forgets nothing.
		$_REQUEST = array('display' => 'queues', 'action' => 'delete', 'account' => '400');
		$this->assertNull($module->doConfigPageInit('queues'));
		$this->assertNotFalse($this->queueRow('400'));
		$this->assertSame('pending', $this->requestStatus($id));
	}

	public function testADeleteTheCliCouldNotCarryOutRaisesANotice() {
		$this->cli(array('queue', 'set', '400', '--enable'));
		putenv('QCB_STUB_DELETE_EXIT=3');
		$module = $this->module($this->stub());
		$this->db->exec("DELETE FROM queues_config WHERE extension = '400'");
		$_REQUEST = array('display' => 'queues', 'action' => 'delete', 'account' => '400');
		$result = $module->doConfigPageInit('queues');
		$this->assertFalse($result['status']);
		$notice = $this->notices()['queuecallback/queue-400'];
		$this->assertStringContainsString('database unreachable', $notice['extended']);
		$this->assertStringContainsString('freepbx-callback queue delete 400', $notice['extended']);
	}

	// --- dialplan -------------------------------------------------------------------------------------

	public function testDialplanHookPriority() {
		$this->assertSame(600, $this->module()->myDialplanHooks());
	}

	public function testDialplanHookAddsContextsAndQueueSettingsButRespectsBreakOuts() {
		$cli = $this->stubDialplan(array(
			'dialplan' => "; comment\n[qcb-exit-400]\nexten => 1,1,NoOp(qcb 400)\n same => n,Set(__NODEST=)\n same => n,AGI(/var/lib/asterisk/agi-bin/qcb-request.agi,400)\n same => n(bye),Hangup()\n\n[qcb-exit-401]\nexten => 1,1,Goto(ext-queues,401,1)\n",
			'queues' => array(
				'400' => array('context' => 'qcb-exit-400', 'periodic-announce' => 'qcb-offer', 'periodic-announce-frequency' => '30'),
				'401' => array('context' => 'qcb-exit-401', 'periodic-announce' => 'qcb-offer', 'periodic-announce-frequency' => '30'),
				'777' => array('context' => 'qcb-exit-777'),
			),
		));
		$ext = new extensions();
		$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
		$conf = $ext->generateConf();
		$this->assertStringContainsString("[qcb-exit-400]\n", $conf);
		$this->assertStringContainsString("exten => 1,1,NoOp(qcb 400)\n", $conf);
		$this->assertStringContainsString("exten => 1,n,AGI(/var/lib/asterisk/agi-bin/qcb-request.agi,400)\n", $conf);
		$this->assertStringContainsString("exten => 1,n(bye),Hangup()\n", $conf);
		$this->assertStringNotContainsString('agi://', $conf);
		$lines = queues_conf::create()->_queues_additional;
		$this->assertSame(array('400'), array_map('strval', array_keys($lines)));
		$this->assertSame(
			array('context=qcb-exit-400', 'periodic-announce=qcb-offer', 'periodic-announce-frequency=30'),
			array_map(function ($l) { return $l['key'] . '=' . $l['value']; }, $lines['400'])
		);
		$notice = $this->notices()['queuecallback/conflict'];
		$this->assertStringContainsStringIgnoringCase('queue 401', $notice['extended']);
		$this->assertStringContainsString('IVR 3', $notice['extended']);
		$this->assertStringContainsString('queue 777 does not exist', $notice['extended']);
	}

	public function testDialplanHookPassesTheRunningAsteriskVersion() {
		$args = HarnessState::dir() . '/dialplan-args';
		putenv('QCB_STUB_ARGS=' . $args);
		$cli = $this->stubDialplan(array('dialplan' => '', 'queues' => array()));
		foreach (array('22.10.1', '20.5.2', '18.20.0') as $version) {
			HarnessState::set('asterisk_version', $version);
			$ext = new extensions();
			$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
			$passed = file($args, FILE_IGNORE_NEW_LINES);
			$this->assertSame(array('dialplan', '--target', 'freepbx'), array_slice($passed, 0, 3));
			$this->assertContains('--asterisk-version=' . $version, $passed);
			$this->assertContains('--agi=' . FreePBX::Config()->get('ASTAGIDIR'), $passed);
		}
	}

	public function testDialplanHookWithoutConflictsClearsTheNotice() {
		HarnessState::set('notifications', array('queuecallback/conflict' => array('text' => 'old')));
		$cli = $this->stubDialplan(array('dialplan' => '', 'queues' => array('400' => array('context' => 'qcb-exit-400'))));
		$ext = new extensions();
		$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
		$this->assertSame(array(), $this->notices());
	}

	public function testDialplanHookWhenTheCliFails() {
		$cli = $this->stubDialplan(array());
		putenv('QCB_STUB_EXIT=3');
		$ext = new extensions();
		$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
		$this->assertSame('', $ext->generateConf());
		$this->assertSame(array(), queues_conf::create()->_queues_additional);
		$notice = $this->notices()['queuecallback/dialplan'];
		$this->assertStringContainsString('database unreachable', $notice['extended']);
	}

	public function testDialplanHookWithTheRealCli() {
		$runner = new CliRunner();
		if (!$runner->has(array('dialplan'))) {
			$this->markTestSkipped('freepbx-callback has no `dialplan` command yet');
		}
		$this->cli(array('queue', 'set', '400', '--enable', '--offer-every', '45'));
		$this->cli(array('queue', 'set', '401', '--enable'));
		$confs = array();
		foreach (array('22.10.1', '20.5.2') as $version) {
			HarnessState::set('asterisk_version', $version);
			queues_conf::reset();
			$ext = new extensions();
			$this->module()->doDialplanHook($ext, 'asterisk', 600);
			$confs[$version] = $ext->generateConf();
		}
		$conf = $confs['22.10.1'];
		$this->assertStringContainsString('[qcb-exit-400]', $conf);
		$this->assertMatchesRegularExpression('/AGI\((?!agi:\/\/127)/', $conf);
		// Queue()'s arguments moved in Asterisk 21: the dialplan follows the version FreePBX reports.
		$this->assertNotSame($confs['22.10.1'], $confs['20.5.2']);
		$lines = queues_conf::create()->_queues_additional;
		$this->assertSame(array('400'), array_map('strval', array_keys($lines)));
		$pairs = array();
		foreach ($lines['400'] as $line) {
			$pairs[$line['key']] = $line['value'];
		}
		$this->assertSame('qcb-exit-400', $pairs['context']);
		$this->assertSame('45', $pairs['periodic-announce-frequency']);
	}

	// --- backup and restore -------------------------------------------------------------------------------

	private function backupObject() {
		return new \FreePBX\modules\Queuecallback\Backup(FreePBX::create(), '17.0.0', null, 'tx', array('module' => 'queuecallback'), false);
	}

	private function restoreObject(array $configs) {
		return new \FreePBX\modules\Queuecallback\Restore(FreePBX::create(), '17.0.0', null, 'tx', array('module' => 'queuecallback', 'configs' => $configs), '/nonexistent', false);
	}

	public function testBackupAndRestoreHandTheDataToTheCli() {
		$data = array('version' => 1, 'queues' => array(array('queue' => '400', 'enabled' => true, 'prompts' => new stdClass())), 'requests' => array());
		$restored = HarnessState::dir() . '/restored.json';
		putenv('QCB_STUB_RESTORED=' . $restored);
		$this->module($this->stub('BACKUP', $data));

		$backup = $this->backupObject();
		$backup->runBackup('1', 'tx');
		$this->assertTrue($backup->getModified());
		$this->assertSame(array('queues'), $backup->getDependencies());
		// The CLI's JSON text itself, so an empty object stays an object on the way back.
		$this->assertSame(array('freepbx-callback'), array_keys($backup->getConfigs()));
		$this->assertSame(json_encode($data), json_encode(json_decode($backup->getConfigs()['freepbx-callback'])));

		$restore = $this->restoreObject($backup->getConfigs());
		$restore->runRestore();
		$this->assertSame(json_encode($data), json_encode(json_decode(file_get_contents($restored))));
		$this->assertStringContainsString('"prompts":{}', file_get_contents($restored));
		$this->assertSame(array(array('restored (stub)', 'INFO')), $restore->logged);
		$this->assertSame(array(), glob(sys_get_temp_dir() . '/qcb-restore-*'));
		$this->assertTrue(HarnessState::get('need_reload'));

		$empty = $this->restoreObject(array());
		$empty->runRestore();
		$this->assertSame('WARNING', $empty->logged[0][1]);
	}

	public function testBackupAndRestoreWithTheRealCli() {
		$runner = new CliRunner();
		if (!$runner->has(array('backup')) || !$runner->has(array('restore'))) {
			$this->markTestSkipped('freepbx-callback has no `backup`/`restore` command yet');
		}
		$this->addRequest('400', '2015551234');
		$this->cli(array('queue', 'set', '400', '--did', '5551000', '--attempts', '4'));
		$this->module();
		$backup = $this->backupObject();
		$backup->runBackup('1', 'tx');
		$configs = $backup->getConfigs();
		$this->assertSame(1, json_decode($configs['freepbx-callback'], true)['version']);
		// The backup module keeps the configs as JSON in the backup file and decodes them on restore.
		$configs = json_decode(json_encode($configs), true);

		$this->db->exec('SET FOREIGN_KEY_CHECKS = 0');
		foreach (array('qcb_events', 'qcb_attempts', 'qcb_requests', 'qcb_queues') as $table) {
			$this->db->exec("DELETE FROM $table");
		}
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 1');
		$this->restoreObject($configs)->runRestore();
		$row = $this->queueRow('400');
		$this->assertSame(array('5551000', '4'), array($row['did'], (string)$row['attempts']));
		$open = $this->db->query("SELECT number, status FROM qcb_requests WHERE queue = '400'")->fetchAll(PDO::FETCH_NUM);
		$this->assertSame(array(array('2015551234', 'pending')), $open);
	}

	public function testABackupTheCliCannotMakeAddsNothing() {
		putenv('QCB_STUB_BACKUP_EXIT=3');
		$this->module($this->stub());
		$backup = $this->backupObject();
		try {
			$backup->runBackup('1', 'tx');
			$this->fail('runBackup() succeeded without data');
		} catch (\FreePBX\modules\Queuecallback\CliError $e) {
			// The backup module catches this, logs it and adds it to the backup's errors.
			$this->assertStringContainsString('database unreachable', $e->getMessage());
		}
		$this->assertFalse($backup->getModified());
	}

	public function testARestoreTheCliRefusesFails() {
		$module = $this->module($this->stub());
		$this->expectException(\FreePBX\modules\Queuecallback\CliError::class);
		$this->restoreObject(array('freepbx-callback' => '{"version": 999}'))->runRestore();
	}

	// --- i18n -----------------------------------------------------------------------------------------

	public function testRussianTranslationInHooks() {
		if (!setlocale(LC_MESSAGES, 'ru_RU.UTF-8', 'ru_RU.utf8')) {
			$this->markTestSkipped('the ru_RU.UTF-8 locale is not installed (locales package)');
		}
		putenv('LANGUAGE=ru_RU');
		try {
			$this->assertSame('Обратный звонок', Queuecallback::t('Callback'));
		} finally {
			setlocale(LC_MESSAGES, 'C');
			putenv('LANGUAGE');
		}
	}
}
