<?php
// The module page's API keys (lib/ApiKeys.php) and per-queue/day statistics with their chart
// (lib/StatsChart.php, views/reports.php), against the real MariaDB and the real freepbx-callback CLI.

use FreePBX\modules\Queuecallback;
use FreePBX\modules\Queuecallback\ApiKeys;
use FreePBX\modules\Queuecallback\CliRunner;
use FreePBX\modules\Queuecallback\StatsChart;
use PHPUnit\Framework\TestCase;

class PageReportsTest extends TestCase {
	/** @var PDO */
	private $db;

	protected function setUp(): void {
		HarnessState::reset();
		FreePBX::reset();
		$this->db = FreePBX::create()->Database;
		$this->db->exec('CREATE TABLE IF NOT EXISTS queues_config (extension VARCHAR(20) NOT NULL PRIMARY KEY, descr VARCHAR(35) NOT NULL DEFAULT \'\', ivr_id VARCHAR(8) NOT NULL DEFAULT \'0\', callback_id VARCHAR(8) NOT NULL DEFAULT \'\')');
		$this->db->exec('DELETE FROM queues_config');
		$this->db->exec("INSERT INTO queues_config (extension, descr, ivr_id, callback_id) VALUES ('400', 'Sales', 'none', ''), ('401', 'Support', 'none', '')");
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 0');
		foreach (array('qcb_events', 'qcb_attempts', 'qcb_requests', 'qcb_queues', 'qcb_api_keys') as $table) {
			$this->db->exec("DELETE FROM $table");
		}
		$this->db->exec('SET FOREIGN_KEY_CHECKS = 1');
		$_REQUEST = $_POST = $_GET = array();
		$_SERVER['REQUEST_METHOD'] = 'GET';
	}

	private function module() {
		$module = new Queuecallback(FreePBX::create(), new CliRunner());
		FreePBX::create()->inject('Queuecallback', $module);
		return $module;
	}

	private function cli(array $args) {
		$result = (new CliRunner())->run($args);
		$this->assertSame(0, $result['exit'], $result['stderr']);
		return json_decode($result['stdout'], true);
	}

	/** A page POST as FreePBX handles it: doConfigPageInit, then the page. */
	private function post(Queuecallback $module, array $fields) {
		$_SERVER['REQUEST_METHOD'] = 'POST';
		$_POST = $fields;
		$_REQUEST = array_merge(array('display' => 'queuecallback'), $fields);
		$module->doConfigPageInit('queuecallback');
		return $module->page();
	}

	private function keyRow($name) {
		$stmt = $this->db->prepare('SELECT * FROM qcb_api_keys WHERE name = ?');
		$stmt->execute(array($name));
		return $stmt->fetch(PDO::FETCH_ASSOC);
	}

	// --- API keys -------------------------------------------------------------------------------------

	public function testAKeyAddedOnThePageShowsItsTokenOnceAndStoresOnlyItsHash() {
		$module = $this->module();
		$page = $this->post($module, array('action' => 'apikey_add', 'name' => 'crm', 'queues' => array('400'), 'per_minute' => '10', 'per_number_hour' => '2'));
		$this->assertSame(array(), $page->errors);
		$this->assertMatchesRegularExpression('/^qcb_[A-Za-z0-9_-]{40,}$/', (string)$page->token);
		$row = $this->keyRow('crm');
		$this->assertSame(hash('sha256', $page->token), $row['token_hash']);
		$this->assertSame('10', (string)$row['per_minute']);
		$this->assertSame('2', (string)$row['per_number_hour']);
		$listed = $this->cli(array('apikey', 'list', '--json'));
		$this->assertSame(array('400'), $listed[0]['queues']);

		$html = $module->showPage();
		$this->assertSame(1, substr_count($html, $page->token), 'the token is shown once');
		$this->assertMatchesRegularExpression('/id="qcb-new-token"[^>]*>.*' . preg_quote($page->token, '/') . '/s', $html);
		$this->assertMatchesRegularExpression('/<tr data-apikey="crm".*?<\/tr>/s', $html);
		preg_match('/<tr data-apikey="crm".*?<\/tr>/s', $html, $m);
		$this->assertStringContainsString('400', $m[0]);
		$this->assertStringContainsString('name="action" value="apikey_revoke"', $m[0]);
		$this->assertStringContainsString('data-confirm=', $m[0]);

		// the next page view no longer has it
		$_SERVER['REQUEST_METHOD'] = 'GET';
		$_REQUEST = array('display' => 'queuecallback');
		$html = $this->module()->showPage();
		$this->assertStringNotContainsString($page->token, $html);
		$this->assertStringContainsString('data-apikey="crm"', $html);
	}

	public function testAKeyForEveryQueueWithTheDefaultLimits() {
		$page = $this->post($this->module(), array('action' => 'apikey_add', 'name' => 'web', 'per_minute' => '', 'per_number_hour' => ' '));
		$this->assertSame(array(), $page->errors);
		$listed = $this->cli(array('apikey', 'list', '--json'));
		$this->assertSame(array(), $listed[0]['queues']);
		$this->assertSame(60, $listed[0]['per_minute']);
		$this->assertSame(3, $listed[0]['per_number_hour']);
	}

	public function testRevokeOnThePage() {
		$module = $this->module();
		$this->post($module, array('action' => 'apikey_add', 'name' => 'crm'));
		$module = $this->module();
		$page = $this->post($module, array('action' => 'apikey_revoke', 'name' => 'crm'));
		$this->assertSame(array(), $page->errors);
		$this->assertStringContainsString('crm', $page->messages[0]);
		$this->assertNotNull($this->keyRow('crm')['revoked_at']);
		$html = $module->showPage();
		preg_match('/<tr data-apikey="crm".*?<\/tr>/s', $html, $m);
		$this->assertNotEmpty($m, 'a revoked key is still listed');
		$this->assertStringContainsString('qcb-revoked', $m[0]);
		$this->assertStringNotContainsString('apikey_revoke', $m[0]);
		// revoking it again is refused with the CLI's message
		$page = $this->post($this->module(), array('action' => 'apikey_revoke', 'name' => 'crm'));
		$this->assertStringContainsString('no active key crm', $page->errors[0]);
	}

	public function testTheCliRefusalsAreShownEscapedAndNothingIsTakenAsAnOption() {
		$module = $this->module();
		$this->post($module, array('action' => 'apikey_add', 'name' => 'crm'));
		$page = $this->post($this->module(), array('action' => 'apikey_add', 'name' => 'crm'));
		$this->assertStringContainsString('exists', $page->errors[0]);
		$this->assertNull($page->token);

		$module = $this->module();
		$page = $this->post($module, array('action' => 'apikey_add', 'name' => '<script>alert(1)</script>'));
		$this->assertNotEmpty($page->errors);
		$html = $module->showPage();
		$this->assertStringNotContainsString('<script>alert(1)', $html);
		$this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $html);

		foreach (array(array('name' => '--help'), array('name' => 'x', 'per_minute' => '--help')) as $fields) {
			$page = $this->post($this->module(), array('action' => 'apikey_add') + $fields);
			$this->assertNotEmpty($page->errors, json_encode($fields));
			$this->assertNull($page->token);
		}
		$page = $this->post($this->module(), array('action' => 'apikey_add', 'name' => ''));
		$this->assertNotEmpty($page->errors);
		$this->assertSame(array('crm'), array_column($this->cli(array('apikey', 'list', '--all', '--json')), 'name'));
	}

	public function testApiKeysOverTheCli() {
		$keys = new ApiKeys(new CliRunner());
		$added = $keys->add(array('name' => 'a', 'queues' => array('400', '401')));
		$this->assertTrue($added['status'], $added['message']);
		$this->assertSame(array('400', '401'), $added['key']['queues']);
		$this->assertSame(hash('sha256', $added['token']), $this->keyRow('a')['token_hash']);
		$this->assertSame(array('a'), array_column($keys->all(), 'name'));
		$this->assertTrue($keys->revoke('a')['status']);
		$this->assertNotNull($keys->all()[0]['revoked_at']);
		// a queue is a value, never an option
		$odd = $keys->add(array('name' => 'c', 'queues' => array('--all')));
		$this->assertTrue($odd['status'], $odd['message']);
		$this->assertSame(array('--all'), $odd['key']['queues']);
		$refused = $keys->add(array('name' => 'b', 'per_minute' => '0'));
		$this->assertFalse($refused['status']);
		$this->assertStringContainsString('0', $refused['message']);
	}

	public function testTheKeysSectionOffersFreepbxQueues() {
		$html = $this->module()->showPage();
		$this->assertMatchesRegularExpression('/id="qcb-apikey-add".*name="queues\[\]" value="400".*name="queues\[\]" value="401"/s', $html);
		$this->assertStringContainsString('name="action" value="apikey_add"', $html);
		$this->assertStringContainsString('id="qcb-apikeys"', $html);
	}

	// --- statistics per queue and day ---------------------------------------------------------------

	private static function day($queue, $day, array $figures = array()) {
		return array_merge(array(
			'queue' => $queue, 'day' => $day, 'accepted' => 0, 'answered' => 0, 'failed' => 0, 'expired' => 0,
			'cancelled' => 0, 'open' => 0, 'median_seconds_to_callback' => null, 'p90_seconds_to_callback' => null,
		), $figures);
	}

	public function testTheChartHelperKeepsTheLast14DaysOfEachQueue() {
		$rows = array();
		for ($d = 1; $d <= 20; $d++) {
			$rows[] = self::day('400', sprintf('2026-11-%02d', $d), array('accepted' => $d));
		}
		$rows[] = self::day('401', '2026-11-05');
		$rows[] = self::day('10', '2026-11-06');
		$byQueue = StatsChart::byQueue($rows);
		$this->assertSame(array('10', '400', '401'), array_map('strval', array_keys($byQueue)));
		$this->assertCount(14, $byQueue['400']);
		$this->assertSame('2026-11-07', $byQueue['400'][0]['day']);
		$this->assertSame('2026-11-20', $byQueue['400'][13]['day']);
		$this->assertSame(array(), StatsChart::byQueue(array()));
	}

	public function testTheChartDrawsBarsWithLegendAndAxes() {
		$svg = StatsChart::svg('400', array(
			self::day('400', '2026-11-30', array('accepted' => 6, 'answered' => 4, 'failed' => 1, 'expired' => 0)),
			self::day('400', '2026-12-01', array('accepted' => 9, 'answered' => 8, 'failed' => 0, 'expired' => 1)),
		));
		$doc = new DOMDocument();
		$this->assertTrue($doc->loadXML($svg), 'the chart is well-formed SVG');
		$this->assertSame('svg', $doc->documentElement->nodeName);
		$xpath = new DOMXPath($doc);
		$xpath->registerNamespace('s', 'http://www.w3.org/2000/svg');
		$bars = $xpath->query('//s:rect[contains(@class, "qcb-bar ")]');
		$this->assertSame(6, $bars->length, 'three bars a day');
		$heights = array();
		foreach ($bars as $bar) {
			$heights[$bar->getAttribute('data-day') . ' ' . $bar->getAttribute('data-kind')] = array((int)$bar->getAttribute('data-value'), (float)$bar->getAttribute('height'));
		}
		$this->assertSame(8, $heights['2026-12-01 answered'][0]);
		$this->assertSame(1, $heights['2026-12-01 expired'][0]);
		$this->assertSame(0.0, $heights['2026-11-30 expired'][1]);
		// heights proportional to the values
		$this->assertEqualsWithDelta($heights['2026-12-01 answered'][1] / 8, $heights['2026-11-30 answered'][1] / 4, 0.01);
		$this->assertEqualsWithDelta($heights['2026-12-01 answered'][1] / 8, $heights['2026-11-30 failed'][1], 0.01);
		$text = $doc->documentElement->textContent;
		foreach (array('Answered', 'Failed', 'Expired', '11-30', '12-01', 'Requests', 'Day (UTC)') as $label) {
			$this->assertStringContainsString($label, $text);
		}
		$this->assertSame(3, $xpath->query('//*[contains(@class, "qcb-legend-item")]')->length);
		$this->assertStringNotContainsString('href', $svg, 'nothing loaded from elsewhere');
		$this->assertStringNotContainsString('<script', $svg);
	}

	public function testTheChartOfDaysWithoutOutcomesAndEscapedQueue() {
		$svg = StatsChart::svg('<b>"q"</b>', array(self::day('<b>"q"</b>', '2026-12-01', array('accepted' => 2, 'open' => 2))));
		$doc = new DOMDocument();
		$this->assertTrue($doc->loadXML($svg));
		$this->assertStringNotContainsString('<b>', $svg);
		$xpath = new DOMXPath($doc);
		$xpath->registerNamespace('s', 'http://www.w3.org/2000/svg');
		foreach ($xpath->query('//s:rect[contains(@class, "qcb-bar ")]') as $bar) {
			$this->assertSame(0.0, (float)$bar->getAttribute('height'));
		}
		$this->assertSame('', StatsChart::svg('400', array()));
		// one day: the chart is still wide enough for its legend
		$width = (float)$doc->documentElement->getAttribute('width');
		foreach ($xpath->query('//*[contains(@class, "qcb-legend-item")]/s:text') as $label) {
			$this->assertLessThanOrEqual($width, (float)$label->getAttribute('x') + 7 * mb_strlen($label->textContent));
		}
	}

	public function testThePageShowsTheFiguresOfEachQueueAndDayWithAChart() {
		$this->cli(array('queue', 'set', '400', '--enable', '--json'));
		$first = $this->cli(array('request', 'add', '400', '2015551234', '--json'));
		$this->cli(array('request', 'add', '400', '2015559876', '--json'));
		$this->cli(array('request', 'cancel', (string)$first['request']['id'], '--json'));
		$stats = $this->cli(array('stats', '--json'));
		$today = $stats['by_queue_and_day'][0];
		$this->assertSame(2, $today['accepted']);

		$html = $this->module()->showPage();
		$this->assertStringContainsString('id="qcb-reports"', $html);
		$this->assertMatchesRegularExpression('/<table[^>]*class="[^"]*qcb-report"[^>]*data-queue="400"/', $html);
		preg_match('/<tr data-day="' . $today['day'] . '".*?<\/tr>/s', $html, $m);
		$this->assertNotEmpty($m, 'a row for today');
		foreach (array('accepted' => 2, 'answered' => 0, 'failed' => 0, 'expired' => 0, 'cancelled' => 1, 'open' => 1) as $field => $value) {
			$this->assertMatchesRegularExpression('/data-field="' . $field . '" data-value="' . $value . '"/', $m[0], $field);
		}
		$this->assertMatchesRegularExpression('/<svg[^>]*class="qcb-chart"[^>]*data-queue="400"/', $html);
		$this->assertStringContainsString('Asterisk plays without telling the module', $html, "the CLI's note about offered");
	}
}
