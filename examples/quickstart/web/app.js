// The quickstart's browser page: a fastapi-users frontend in plain JavaScript.
//
// Every request is a same-origin fetch with `credentials: 'same-origin'`: the browser keeps
// the auth cookie (HttpOnly, so this script never sees it) and sends it back, and adds the
// `Origin` header that the cookie backends' CSRF check reads. The page is served at `/`,
// `/verify?token=...` and `/reset-password?token=...`, the links of the emails.
'use strict';

const $ = (id) => document.getElementById(id);

// Which cookie backend signed in (`cookie`: JWT; `session`: database token; `page`: short JWTs
// renewed with refresh tokens), so that sign-out goes to the same one. Not a secret: the
// tokens themselves are in HttpOnly cookies.
const BACKEND_KEY = 'fastusers.backend';
const BACKENDS = ['cookie', 'session', 'page'];

// The `page` backend's refresh route: the refresh cookie is sent there only.
const REFRESH_PATH = '/auth/page/refresh';

// What a person should read for each `detail` code of the API.
const MESSAGES = {
  LOGIN_BAD_CREDENTIALS: 'Wrong email or password.',
  LOGIN_USER_NOT_VERIFIED: 'Verify your email address before signing in.',
  REGISTER_USER_ALREADY_EXISTS:
    'An account with this email address already exists. Sign in, or reset its password.',
  UPDATE_USER_EMAIL_ALREADY_EXISTS: 'Another account already uses this email address.',
  VERIFY_USER_BAD_TOKEN:
    'This verification link is invalid or has expired. Sign in and ask for a new one.',
  VERIFY_USER_ALREADY_VERIFIED: 'Your email address is already verified.',
  RESET_PASSWORD_BAD_TOKEN:
    'This reset link is invalid, has expired or was already used. Ask for a new one.',
  CSRF_CHECK_FAILED: 'The request was refused: it did not come from this site.',
  REFRESH_TOKEN_INVALID: 'Your session has ended. Please sign in.',
  REFRESH_TOKEN_REUSED:
    'Your session was ended because its token was used twice, maybe by someone else. Please sign in.',
  Unauthorized: 'You are not signed in, or your session has ended. Please sign in.',
};

let currentUser = null;
let resetToken = null;

/** A request to the API; resolves to {ok, status, data, headers} and never throws. Signed in
 *  with refresh tokens, a 401 (the short access token expired) renews the tokens silently
 *  and sends the request again, once. */
async function api(method, path, body) {
  const r = await send(method, path, body);
  if (r.status !== 401 || localStorage.getItem(BACKEND_KEY) !== 'page' || path.startsWith('/auth/')) {
    return r;
  }
  const renewed = await renew();
  return renewed ? send(method, path, body) : r;
}

// One renewal at a time: requests that fail together wait for the same one.
let renewing = null;

/** Exchanges the refresh cookie for new tokens; resolves to whether it worked. */
function renew() {
  renewing ??= send('POST', REFRESH_PATH).then((r) => {
    renewing = null;
    return r.ok;
  });
  return renewing;
}

async function send(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body instanceof URLSearchParams) {
    init.body = body; // application/x-www-form-urlencoded, as OAuth2PasswordRequestForm wants
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: null, headers: new Headers() };
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data, headers: response.headers };
}

/** The sentence to show for a failed request. */
function errorMessage(r) {
  if (r.status === 0) return 'The server cannot be reached. Check your connection and try again.';
  const detail = r.data && r.data.detail;
  if (r.status === 429) {
    const seconds = Number(r.headers.get('Retry-After')) || 60;
    const minutes = Math.ceil(seconds / 60);
    return `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  }
  if (detail && typeof detail === 'object' && !Array.isArray(detail) && detail.reason) {
    return `This password cannot be used: ${detail.reason}.`; // {code: *_INVALID_PASSWORD, reason}
  }
  if (Array.isArray(detail)) {
    // 422, FastAPI's validation errors: [{loc: ['body', 'email'], msg}, ...]
    return detail.map((e) => `${(e.loc || []).slice(-1)[0] || 'input'}: ${e.msg}`).join('; ');
  }
  if (typeof detail === 'string') return MESSAGES[detail] || detail;
  return `Something went wrong (HTTP ${r.status}). Please try again.`;
}

/** Shows a message at the top of the page; kind is 'ok' or 'error'. */
function notice(text, kind) {
  const el = $('notice');
  el.textContent = text;
  el.className = kind;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.hidden = false;
}

/** Reports a failed request; a 401 means the session is gone. */
function fail(r) {
  notice(errorMessage(r), 'error');
  if (r.status === 401) show('signed-out');
}

/** Shows one view: 'signed-out', 'signed-in' or 'reset'. */
function show(view) {
  $('loading').hidden = true;
  $('reset').hidden = view !== 'reset';
  $('signed-out').hidden = view !== 'signed-out';
  $('signed-in').hidden = view !== 'signed-in';
  const signedIn = view === 'signed-in' && currentUser !== null;
  $('account').hidden = !signedIn;
  if (!signedIn) currentUser = null;
}

function showProfile(user) {
  currentUser = user;
  const yesNo = (b) => (b ? 'Yes' : 'No');
  $('who-email').textContent = user.email;
  $('profile-email').textContent = user.email;
  $('profile-verified').textContent = yesNo(user.is_verified);
  $('profile-active').textContent = yesNo(user.is_active);
  $('profile-superuser').textContent = yesNo(user.is_superuser);
  $('profile-id').textContent = user.id;
  $('verify-box').hidden = user.is_verified;
  show('signed-in');
}

/** Loads the profile (GET /users/me) and shows the matching view; resolves to the user. */
async function refresh() {
  const r = await api('GET', '/users/me');
  if (r.ok) {
    showProfile(r.data);
    return r.data;
  }
  show('signed-out');
  if (r.status !== 401) notice(errorMessage(r), 'error');
  return null;
}

/** Handles a form's submit with `handler(formData, form)`, its button disabled meanwhile. */
function onSubmit(id, handler) {
  const form = $(id);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await handler(new FormData(form), form);
    } finally {
      button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
}

onSubmit('login-form', async (data) => {
  const backend = BACKENDS.includes(data.get('backend')) ? data.get('backend') : 'cookie';
  const form = new URLSearchParams({ username: data.get('username'), password: data.get('password') });
  const r = await api('POST', `/auth/${backend}/login`, form);
  if (!r.ok) return fail(r);
  localStorage.setItem(BACKEND_KEY, backend);
  $('login-password').value = '';
  const user = await refresh();
  if (user) {
    notice(`You are signed in as ${user.email}.`, 'ok');
  } else {
    notice(
      'The server accepted the password but the browser did not keep the cookie: it is ' +
        'marked Secure and this page is plain HTTP. Open the page over HTTPS or at ' +
        'http://localhost, or start the server with COOKIE_SECURE=false.',
      'error',
    );
  }
});

onSubmit('register-form', async (data, form) => {
  const r = await api('POST', '/auth/register', {
    email: data.get('email'),
    password: data.get('password'),
  });
  if (!r.ok) return fail(r);
  form.reset();
  $('login-email').value = r.data.email;
  notice(`Your account ${r.data.email} is created. You can sign in now.`, 'ok');
  $('login-password').focus();
});

onSubmit('forgot-form', async (data, form) => {
  const email = data.get('email');
  const r = await api('POST', '/auth/forgot-password', { email });
  if (!r.ok) return fail(r);
  form.reset();
  notice(`If an account exists for ${email}, we emailed it a link to choose a new password.`, 'ok');
});

onSubmit('password-form', async (data, form) => {
  const password = data.get('password');
  const r = await api('PATCH', '/users/me', { password });
  if (!r.ok) return fail(r);
  form.reset();
  // A password change ends every session of the user, this one included: sign this browser in
  // again with the new password, on the same backend.
  const stored = localStorage.getItem(BACKEND_KEY);
  const backend = BACKENDS.includes(stored) ? stored : 'cookie';
  await api('POST', `/auth/${backend}/login`, new URLSearchParams({ username: r.data.email, password }));
  const user = await refresh();
  notice(
    user
      ? 'Your password has been changed.'
      : 'Your password has been changed. Sign in again with the new password.',
    'ok',
  );
});

onSubmit('reset-form', async (data, form) => {
  const r = await api('POST', '/auth/reset-password', {
    token: resetToken,
    password: data.get('password'),
  });
  if (!r.ok) return fail(r);
  form.reset();
  resetToken = null;
  history.replaceState(null, '', '/');
  await refresh();
  notice('Your password has been changed. You can sign in with the new password.', 'ok');
});

$('request-verify').addEventListener('click', async (event) => {
  if (!currentUser) return;
  const email = currentUser.email;
  event.target.disabled = true;
  const r = await api('POST', '/auth/request-verify-token', { email });
  event.target.disabled = false;
  if (!r.ok) return fail(r);
  notice(`We emailed a verification link to ${email}. Open it to verify your address.`, 'ok');
});

$('logout').addEventListener('click', async () => {
  // The backend that signed in first, then the other, until the API no longer knows us.
  const first = localStorage.getItem(BACKEND_KEY);
  // No silent renewal while signing out.
  localStorage.removeItem(BACKEND_KEY);
  const order = BACKENDS.includes(first) ? [first, ...BACKENDS.filter((b) => b !== first)] : BACKENDS;
  for (const backend of order) {
    // With refresh tokens, signing out revokes them (and clears both cookies).
    const path = backend === 'page' ? `${REFRESH_PATH}/revoke` : `/auth/${backend}/logout`;
    const r = await api('POST', path);
    if (!r.ok && r.status !== 401) return fail(r);
    if ((await api('GET', '/users/me')).status === 401) break;
  }
  localStorage.removeItem(BACKEND_KEY);
  const user = await refresh();
  if (user) notice('You are still signed in.', 'error');
  else notice('You are signed out.', 'ok');
});

$('logout-all').addEventListener('click', async () => {
  // Every session of the account ends, in every browser and app: JWTs, server-side sessions
  // and refresh tokens.
  const r = await api('DELETE', '/users/me/sessions');
  if (!r.ok) return fail(r);
  localStorage.removeItem(BACKEND_KEY);
  const user = await refresh();
  if (user) notice('You are still signed in.', 'error');
  else notice('You are signed out everywhere.', 'ok');
});

/** The email links: `/verify?token=...` verifies at once, `/reset-password?token=...` asks
 *  for the new password. The token leaves the address bar as soon as it is read. */
async function start() {
  const path = location.pathname;
  const token = new URLSearchParams(location.search).get('token');
  if (path === '/verify') {
    history.replaceState(null, '', '/');
    if (!token) {
      await refresh();
      return notice('This verification link has no token. Sign in and ask for a new one.', 'error');
    }
    notice('Verifying your email address…', 'ok');
    const r = await api('POST', '/auth/verify', { token });
    await refresh();
    if (r.ok) notice(`Thank you: your email address ${r.data.email} is verified.`, 'ok');
    else fail(r);
    return;
  }
  if (path === '/reset-password') {
    if (token) {
      resetToken = token;
      history.replaceState(null, '', '/reset-password');
      show('reset');
      $('reset-password').focus();
      return;
    }
    history.replaceState(null, '', '/');
    await refresh();
    return notice('This reset link has no token. Ask for a new one below.', 'error');
  }
  await refresh();
}

start();
