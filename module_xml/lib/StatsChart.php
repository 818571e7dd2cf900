<?php
// The page's figures per queue and day (`stats --json`'s by_queue_and_day) and their chart: an inline SVG
// with one bar per outcome and day (answered, failed, expired), a legend and axis labels. Drawn here, with
// nothing loaded from elsewhere.
namespace FreePBX\modules\Queuecallback;

use FreePBX\modules\Queuecallback as Module;

class StatsChart {
	/** Days with requests the page shows per queue (the latest ones). */
	const DAYS = 14;

	/** The outcomes drawn, in order: the CLI's field => colour. */
	const KINDS = array('answered' => '#3c9a3c', 'failed' => '#d9534f', 'expired' => '#e8a33d');

	// Geometry (px).
	const LEFT = 46;
	const RIGHT = 12;
	const TOP = 34;
	const BOTTOM = 46;
	const PLOT_HEIGHT = 160;
	const BAR = 10;
	const GAP = 2;
	const GROUP = 46;
	const MIN_PLOT_WIDTH = 240;

	/**
	 * The rows of by_queue_and_day grouped by queue (queues in natural order), each queue's latest $days
	 * days with requests, oldest first.
	 */
	public static function byQueue(array $rows, $days = self::DAYS) {
		$out = array();
		foreach ($rows as $row) {
			if (!is_array($row) || !isset($row['queue'], $row['day'])) {
				continue;
			}
			$out[(string)$row['queue']][(string)$row['day']] = $row;
		}
		ksort($out, SORT_NATURAL);
		foreach ($out as $queue => $byDay) {
			ksort($byDay, SORT_STRING);
			$out[$queue] = array_slice(array_values($byDay), -$days);
		}
		return $out;
	}

	/** The legend's and the table's name of an outcome. */
	public static function labels() {
		return array(
			'answered' => Module::t('Answered'),
			'failed' => Module::t('Failed'),
			'expired' => Module::t('Expired'),
		);
	}

	/** Seconds as the table shows them: "m:ss", or "–" when there is no figure. */
	public static function duration($seconds) {
		if ($seconds === null || $seconds === '' || !is_numeric($seconds)) {
			return '–';
		}
		$total = (int)round((float)$seconds);
		return sprintf('%d:%02d', intdiv($total, 60), $total % 60);
	}

	/** A round top for the value axis and its step: 1, 2 or 5 × 10^n, at most 5 steps. */
	public static function scale($max) {
		$max = max(1, (int)$max);
		$step = 1;
		while (true) {
			foreach (array(1, 2, 5) as $m) {
				if ($max <= $step * $m * 5) {
					$unit = $step * $m;
					return array((int)(ceil($max / $unit) * $unit), $unit);
				}
			}
			$step *= 10;
		}
	}

	/** Room for one legend entry: the swatch, its label (about 7 px a character) and a gap. */
	private static function legendWidth($text) {
		return 24 + 7 * preg_match_all('/./us', (string)$text);
	}

	/** The chart of one queue's days (rows of by_queue_and_day, oldest first); '' for no days. */
	public static function svg($queue, array $days) {
		if (!$days) {
			return '';
		}
		$h = function ($v) { return htmlspecialchars((string)$v, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8'); };
		$n = function ($v) { return sprintf('%.1F', $v); };
		$labels = self::labels();
		$max = 0;
		foreach ($days as $day) {
			foreach (array_keys(self::KINDS) as $kind) {
				$max = max($max, isset($day[$kind]) ? (int)$day[$kind] : 0);
			}
		}
		list($top, $unit) = self::scale($max);
		$legend = 0;
		foreach ($labels as $text) {
			$legend += self::legendWidth($text);
		}
		$width = self::LEFT + max(count($days) * self::GROUP, $legend, self::MIN_PLOT_WIDTH) + self::RIGHT;
		$height = self::TOP + self::PLOT_HEIGHT + self::BOTTOM;
		$base = self::TOP + self::PLOT_HEIGHT;
		$title = sprintf(Module::t('Callbacks of queue %s per day'), $queue);
		$out = array();
		$out[] = sprintf(
			'<svg xmlns="http://www.w3.org/2000/svg" class="qcb-chart" data-queue="%s" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="sans-serif" font-size="11">',
			$h($queue), $width, $height, $width, $height, $h($title)
		);
		$out[] = '<title>' . $h($title) . '</title>';
		// legend
		$x = self::LEFT;
		foreach (self::KINDS as $kind => $colour) {
			$out[] = sprintf(
				'<g class="qcb-legend-item" data-kind="%s"><rect class="qcb-legend-swatch" x="%d" y="8" width="10" height="10" fill="%s"/><text x="%d" y="17">%s</text></g>',
				$kind, $x, $colour, $x + 14, $h($labels[$kind])
			);
			$x += self::legendWidth($labels[$kind]);
		}
		// value axis: grid lines and numbers
		for ($v = 0; $v <= $top; $v += $unit) {
			$y = $base - $v / $top * self::PLOT_HEIGHT;
			$out[] = sprintf(
				'<line class="qcb-grid" x1="%d" y1="%s" x2="%d" y2="%s" stroke="#ddd"/><text class="qcb-tick" x="%d" y="%s" text-anchor="end">%d</text>',
				self::LEFT, $n($y), $width - self::RIGHT, $n($y), self::LEFT - 6, $n($y + 4), $v
			);
		}
		$out[] = sprintf(
			'<text class="qcb-axis-title" transform="translate(12 %s) rotate(-90)" text-anchor="middle">%s</text>',
			$n(self::TOP + self::PLOT_HEIGHT / 2), $h(Module::t('Requests'))
		);
		// bars, three a day, and the day under them
		foreach ($days as $i => $day) {
			$x0 = self::LEFT + $i * self::GROUP + (self::GROUP - 3 * self::BAR - 2 * self::GAP) / 2;
			$k = 0;
			foreach (self::KINDS as $kind => $colour) {
				$value = isset($day[$kind]) ? (int)$day[$kind] : 0;
				$barHeight = $value / $top * self::PLOT_HEIGHT;
				$out[] = sprintf(
					'<rect class="qcb-bar qcb-bar-%s" data-day="%s" data-kind="%s" data-value="%d" x="%s" y="%s" width="%d" height="%s" fill="%s"><title>%s</title></rect>',
					$kind, $h($day['day']), $kind, $value, $n($x0 + $k * (self::BAR + self::GAP)), $n($base - $barHeight),
					self::BAR, $n($barHeight), $colour, $h(sprintf('%s %s: %d', $day['day'], $labels[$kind], $value))
				);
				$k++;
			}
			$out[] = sprintf(
				'<text class="qcb-day" x="%s" y="%d" text-anchor="middle">%s</text>',
				$n(self::LEFT + $i * self::GROUP + self::GROUP / 2), $base + 15, $h(substr((string)$day['day'], 5))
			);
		}
		$out[] = sprintf(
			'<line class="qcb-axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#666"/><line class="qcb-axis" x1="%d" y1="%d" x2="%d" y2="%d" stroke="#666"/>',
			self::LEFT, self::TOP, self::LEFT, $base, self::LEFT, $base, $width - self::RIGHT, $base
		);
		$out[] = sprintf(
			'<text class="qcb-axis-title" x="%s" y="%d" text-anchor="middle">%s</text>',
			$n((self::LEFT + $width - self::RIGHT) / 2), $height - 8, $h(Module::t('Day (UTC)'))
		);
		$out[] = '</svg>';
		return implode("\n", $out);
	}
}
