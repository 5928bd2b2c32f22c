"""The web app: a JSON API, an embeddable widget, and a demo drug page.

Data flows registry -> models -> store -> here, as it does to the CLI; this
package never imports the CLI, and the CLI reaches it only through
``trialfinder.serving``. ``create_app`` builds the aiohttp application.
"""

from trialfinder.web.app import create_app

__all__ = ["create_app"]
