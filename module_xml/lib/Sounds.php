<?php
// FreePBX links a module's sounds/<lang>/* into Asterisk's sounds folder on reload, but only where
// sounds/<lang> already exists there (a fresh FreePBX has no sounds/ru). Create the language folders the
// module ships, owned by the Asterisk user, so the next reload links every prompt.
namespace FreePBX\modules\Queuecallback;

class Sounds {
	/** Returns the language folders created under $soundsDir. */
	public static function prepareLanguages($moduleDir, $soundsDir, $owner = 'asterisk') {
		$created = array();
		if (!is_dir($soundsDir)) {
			return $created;
		}
		foreach (glob(rtrim($moduleDir, '/') . '/sounds/*', GLOB_ONLYDIR) ?: array() as $folder) {
			$lang = basename($folder);
			if (!preg_match('/^[a-z]{2}(_[A-Za-z]{2})?$/', $lang)) {
				continue;
			}
			$target = rtrim($soundsDir, '/') . '/' . $lang;
			if (is_dir($target)) {
				continue;
			}
			if (@mkdir($target, 0775)) {
				@chown($target, $owner);
				@chgrp($target, $owner);
				$created[] = $target;
			}
		}
		return $created;
	}
}
