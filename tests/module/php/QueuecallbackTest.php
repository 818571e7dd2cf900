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
		$this->db->exec("INSERT INTO queues_config (extension, descr, ivr_id, callback_id) VALUES ('400', 'Sales', '0', ''), ('401', 'Support', '3', ''), ('402', '<script>alert(1)</script>', '', 'none')");
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 0');
		foreach (array('qcb_events', 'qcb_attempts', 'qcb_requests', 'qcb_queues') as $table) {
			$this->db->exec("DELETE FROM $table");
		}
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 1');
		$_REQUEST = $_POST = $_GET = array();
		$_SERVER['REQUEST_METHOD'] = 'GET';
		putenv('QCB_STUB_EXIT');
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

	private function stubDialplan(array $data) {
		$file = HarnessState::dir() . '/dialplan.json';
		file_put_contents($file, json_encode($data));
		putenv('QCB_STUB_DIALPLAN=' . $file);
		putenv('QCB_REAL_CLI=' . CliRunner::locate());
		return __DIR__ . '/../harness/stub-cli.sh';
	}

	// --- install / uninstall --------------------------------------------------------------------------

	public function testInstallMigratesAndRegistersTheDialerJob() {
		$this->module()->install();
		$jobs = FreePBX::Job()->getAll();
		$this->assertCount(1, $jobs);
		$this->assertSame('queuecallback', $jobs[0]['modulename']);
		$this->assertSame('dial', $jobs[0]['jobname']);
		$this->assertSame(CliRunner::locate() . ' dial', $jobs[0]['command']);
		$this->assertSame('* * * * *', $jobs[0]['schedule']);
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
			'action' => 'save', 'queue' => '400', 'enabled' => '1', 'did' => '+1 555-1000', 'attempts' => '3',
			'retry_interval' => '120', 'window' => '900', 'offer_every' => '45', 'mode' => 'customer-first',
			'notify_agents' => '0', 'language' => 'ru', 'max_pending' => '', 'block_patterns' => "_1900NXXXXXX\n+44",
			'allow_patterns' => '', 'offer_recording' => 'default',
		), $overrides);
	}

	public function testSavingTheQueueFormWritesTheSettings() {
		$module = $this->module();
		$this->post($this->form());
		$module->doConfigPageInit('queuecallback');
		$this->assertSame(array(), $module->errors);
		$this->assertStringContainsString('Queue 400 saved', $module->messages[0]);
		$row = $this->queueRow('400');
		$this->assertSame('1', (string)$row['enabled']);
		$this->assertSame('+15551000', $row['did']);
		$this->assertSame(array('3', '120', '900', '45'), array((string)$row['attempts'], (string)$row['retry_interval'], (string)$row['window_s'], (string)$row['offer_every']));
		$this->assertSame('customer-first', $row['mode']);
		$this->assertSame('0', (string)$row['notify_agents']);
		$this->assertSame('ru', $row['language']);
		$this->assertNull($row['max_pending']);
		$this->assertStringContainsString('_1900NXXXXXX', $row['block_patterns']);
		$this->assertStringContainsString('+44', $row['block_patterns']);
		$this->assertTrue(HarnessState::get('need_reload'));

		// Saving again with fewer patterns replaces them (no merging with the old list).
		$this->post($this->form(array('block_patterns' => '+44', 'enabled' => '0')));
		$module->doConfigPageInit('queuecallback');
		$row = $this->queueRow('400');
		$this->assertSame('0', (string)$row['enabled']);
		$this->assertStringNotContainsString('1900', (string)$row['block_patterns']);
	}

	public function testMalformedInputIsRefusedBeforeTheCliRuns() {
		$module = $this->module();
		$this->post($this->form(array('did' => 'x;Dial(1)', 'attempts' => '99', 'mode' => 'both', 'block_patterns' => '1${EXTEN}')));
		$module->doConfigPageInit('queuecallback');
		$this->assertFalse($this->queueRow('400'));
		$text = implode(' ', $module->errors);
		$this->assertStringContainsString('DID', $text);
		$this->assertStringContainsString('Attempts', $text);
		$this->assertStringContainsString('Mode', $text);
		$this->assertStringContainsString('Pattern', $text);
		$this->assertSame('form', $_REQUEST['view']);

		$this->post($this->form(array('queue' => '400;rm -rf /')));
		$module->doConfigPageInit('queuecallback');
		$this->assertSame(0, (int)$this->db->query('SELECT COUNT(*) FROM qcb_queues')->fetchColumn());
	}

	public function testTheCliHasTheLastWordAndItsMessageIsShown() {
		$module = $this->module();
		// Right shape for the page, refused by the Python rules (a pattern with an unclosed range).
		$this->post($this->form(array('block_patterns' => '_1[23')));
		$module->doConfigPageInit('queuecallback');
		$this->assertFalse($this->queueRow('400'));
		$this->assertNotEmpty($module->errors);
		$this->assertStringNotContainsString('Traceback', $module->errors[0]);
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
		$this->post($this->form(array('offer_recording' => '7')));
		$module->doConfigPageInit('queuecallback');
		$this->assertSame(array(), $module->errors);
		$this->assertStringContainsString('offer=custom/our-offer', $this->queueRow('400')['prompts']);

		$this->post($this->form(array('offer_recording' => '999')));
		$module->doConfigPageInit('queuecallback');
		$this->assertStringContainsString('does not exist', implode(' ', $module->errors));

		$module->errors = array();
		$this->post($this->form(array('offer_recording' => 'default')));
		$module->doConfigPageInit('queuecallback');
		$this->assertSame(array(), $module->errors);
		$this->assertStringNotContainsString('offer=', (string)$this->queueRow('400')['prompts']);
	}

	public function testCancelAndRetryFromThePage() {
		$id = $this->addRequest('400', '5551234');
		$module = $this->module();
		$this->post(array('action' => 'cancel', 'id' => (string)$id));
		$module->doConfigPageInit('queuecallback');
		$this->assertSame('cancelled', $this->requestStatus($id));
		$this->post(array('action' => 'retry', 'id' => (string)$id));
		$module->doConfigPageInit('queuecallback');
		$this->assertSame('pending', $this->requestStatus($id));
		$this->post(array('action' => 'cancel', 'id' => '1 OR 1=1'));
		$module->doConfigPageInit('queuecallback');
		$this->assertStringContainsString('not a request number', end($module->errors));
	}

	// --- AJAX -----------------------------------------------------------------------------------------

	public function testOnlyDeclaredAjaxCommandsAreAllowed() {
		$module = $this->module();
		$setting = array();
		foreach (array('requests', 'cancel', 'retry', 'savequeue', 'stats', 'queues') as $command) {
			$this->assertTrue($module->ajaxRequest($command, $setting), $command);
		}
		$this->assertFalse($module->ajaxRequest('delete', $setting));
		$this->assertFalse($module->ajaxRequest('', $setting));
	}

	public function testAjaxCancelRetryListAndStats() {
		$id = $this->addRequest('400', '5551234');
		$other = $this->addRequest('400', '5559876');
		$module = $this->module();

		$this->post(array('id' => (string)$id));
		$_REQUEST['command'] = 'cancel';
		$reply = $module->ajaxHandler();
		$this->assertTrue($reply['status'], $reply['message']);
		$this->assertSame('cancelled', $reply['request']['status']);
		$this->assertSame('cancelled', $this->requestStatus($id));

		$_SERVER['REQUEST_METHOD'] = 'GET';
		$_REQUEST = array('command' => 'requests', 'status' => 'pending');
		$reply = $module->ajaxHandler();
		$this->assertSame(array($other), array_map(function ($r) { return (int)$r['id']; }, $reply['requests']));

		$_REQUEST = array('command' => 'requests', 'status' => 'nonsense');
		$this->assertFalse($module->ajaxHandler()['status']);

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
		$id = $this->addRequest('400', '5551234');
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
		$this->addRequest('400', '5551234');
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('id="qcb-requests"', $html);
		$this->assertStringContainsString('5551234', $html);
		$this->assertStringContainsString('data-stat="median"', $html);
		$this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $html);
		$this->assertStringNotContainsString('<script>alert(1)', $html);
		$this->assertMatchesRegularExpression('/data-queue="401".*an IVR break-out/s', $html);
	}

	public function testTheFormShowsSettingsAndRefusesABadQueueName() {
		$this->cli(array('queue', 'set', '400', '--enable', '--did', '5551000'));
		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '400');
		$html = $this->module()->showPage();
		$this->assertStringContainsString('name="did" value="5551000"', $html);
		$this->assertMatchesRegularExpression('/id="qcb-enabled-yes" value="1" checked/', $html);
		$this->assertStringContainsString('class="fpbx-submit"', $html);

		$_REQUEST = array('display' => 'queuecallback', 'view' => 'form', 'queue' => '"><script>');
		$html = $this->module()->showPage();
		$this->assertStringNotContainsString('"><script>', $html);
		$this->assertStringContainsString('id="qcb-requests"', $html);
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

	public function testTheTabForANewQueueAndAnAddThatTheQueuesModuleRefused() {
		$module = $this->module();
		$_REQUEST = array('display' => 'queues', 'view' => 'form', 'extdisplay' => '');
		$tabs = $module->queuesTab();
		$this->assertMatchesRegularExpression('/id="qcb_enabledno" value="0" checked/', $tabs[0]['content']);
		$_REQUEST = array('action' => 'add', 'account' => '499', 'qcb_present' => '1', 'qcb_enabled' => '1');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('499'));
		// A queue save without our tab's fields (another form) leaves the settings alone.
		$_REQUEST = array('action' => 'edit', 'account' => '400');
		$module->doConfigPageInit('queues');
		$this->assertFalse($this->queueRow('400'));
	}

	public function testDeletingTheQueueTurnsCallbackOff() {
		$this->cli(array('queue', 'set', '400', '--enable'));
		$_REQUEST = array('display' => 'queues', 'action' => 'delete', 'account' => '400');
		$this->module()->doConfigPageInit('queues');
		$row = $this->queueRow('400');
		$this->assertTrue($row === false || (string)$row['enabled'] === '0');
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
		$notice = HarnessState::get('notifications')['queuecallback/conflict'];
		$this->assertStringContainsStringIgnoringCase('queue 401', $notice['extended']);
		$this->assertStringContainsString('IVR', $notice['extended']);
		$this->assertStringContainsString('queue 777 does not exist', $notice['extended']);
	}

	public function testDialplanHookWithoutConflictsClearsTheNotice() {
		HarnessState::set('notifications', array('queuecallback/conflict' => array('text' => 'old')));
		$cli = $this->stubDialplan(array('dialplan' => '', 'queues' => array('400' => array('context' => 'qcb-exit-400'))));
		$ext = new extensions();
		$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
		$this->assertSame(array(), HarnessState::get('notifications'));
	}

	public function testDialplanHookWhenTheCliFails() {
		$cli = $this->stubDialplan(array());
		putenv('QCB_STUB_EXIT=3');
		$ext = new extensions();
		$this->module($cli)->doDialplanHook($ext, 'asterisk', 600);
		$this->assertSame('', $ext->generateConf());
		$this->assertSame(array(), queues_conf::create()->_queues_additional);
		$notice = HarnessState::get('notifications')['queuecallback/dialplan'];
		$this->assertStringContainsString('database unreachable', $notice['extended']);
	}

	public function testDialplanHookWithTheRealCli() {
		$runner = new CliRunner();
		if (!$runner->has(array('dialplan'))) {
			$this->markTestSkipped('freepbx-callback has no `dialplan` command yet');
		}
		$this->cli(array('queue', 'set', '400', '--enable', '--offer-every', '45'));
		$this->cli(array('queue', 'set', '401', '--enable'));
		$ext = new extensions();
		$this->module()->doDialplanHook($ext, 'asterisk', 600);
		$conf = $ext->generateConf();
		$this->assertStringContainsString('[qcb-exit-400]', $conf);
		$this->assertMatchesRegularExpression('/AGI\((?!agi:\/\/127)/', $conf);
		$lines = queues_conf::create()->_queues_additional;
		$this->assertSame(array('400'), array_map('strval', array_keys($lines)));
		$pairs = array();
		foreach ($lines['400'] as $line) {
			$pairs[$line['key']] = $line['value'];
		}
		$this->assertSame('qcb-exit-400', $pairs['context']);
		$this->assertSame('45', $pairs['periodic-announce-frequency']);
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
