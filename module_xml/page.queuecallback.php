<?php
if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }
// Queue Callback page: per-queue settings, callback requests and statistics (views/main.php, views/form.php).
echo FreePBX::Queuecallback()->showPage();
