/* Queue Callback page: request actions through FreePBX's AJAX endpoint; plain form posts without JS. */
(function () {
	'use strict';

	function ajaxUrl(command) {
		return 'ajax.php?module=queuecallback&command=' + encodeURIComponent(command);
	}

	function show(kind, text) {
		var box = document.getElementById('qcb-messages');
		if (!box) { return; }
		var div = document.createElement('div');
		div.className = 'alert ' + (kind === 'ok' ? 'alert-success qcb-message' : 'alert-danger qcb-error');
		div.setAttribute('role', kind === 'ok' ? 'status' : 'alert');
		div.textContent = text;
		box.innerHTML = '';
		box.appendChild(div);
	}

	// The status as the filter list labels it (the page's translation), else as the CLI printed it.
	function statusLabel(status) {
		var options = document.querySelectorAll('#qcb-status option');
		for (var i = 0; i < options.length; i++) {
			if (options[i].value === status) { return options[i].textContent; }
		}
		return status;
	}

	function statusCell(row, request) {
		var cell = row.querySelector('.qcb-status');
		if (!cell || !request) { return; }
		cell.setAttribute('data-status', request.status);
		cell.textContent = statusLabel(request.status);
		if (request.closed_at) {
			var cancel = row.querySelector('.qcb-cancel');
			if (cancel) { cancel.closest('form').remove(); }
		}
	}

	function onAction(event) {
		var form = event.target;
		if (!form.classList || !form.classList.contains('qcb-action') || !window.fetch) { return; }
		event.preventDefault();
		var question = form.getAttribute('data-confirm');
		if (question && !window.confirm(question)) { return; }
		var data = new FormData(form);
		var command = data.get('action');
		fetch(ajaxUrl(command), { method: 'POST', body: data, credentials: 'same-origin' })
			.then(function (response) {
				if (!response.ok) { throw new Error('HTTP ' + response.status); }
				return response.json();
			})
			.then(function (reply) {
				show(reply.status ? 'ok' : 'error', reply.message || '');
				if (reply.status) { statusCell(form.closest('tr'), reply.request); }
			})
			.catch(function () { form.submit(); });
	}

	// Plain posts that ask first (Revoke of an API key).
	function onConfirm(event) {
		var form = event.target;
		if (!form.classList || !form.classList.contains('qcb-confirm')) { return; }
		var question = form.getAttribute('data-confirm');
		if (question && !window.confirm(question)) { event.preventDefault(); }
	}

	document.addEventListener('submit', onAction, true);
	document.addEventListener('submit', onConfirm, true);
	document.addEventListener('change', function (event) {
		if (event.target && event.target.id === 'qcb-status') { event.target.form.submit(); }
	});
}());
