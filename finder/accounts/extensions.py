"""The Flask extensions accounts use, created here and bound in `finder.accounts.init_app`."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# storage from RATELIMIT_STORAGE_URI; keyed by the client address (see GROUPFINDER_PROXY_HOPS)
limiter = Limiter(key_func=get_remote_address)
