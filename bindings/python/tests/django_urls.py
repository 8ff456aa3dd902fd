"""Views of the end-to-end test: the X-Accel-Redirect replacement (a 302 to a fresh signed
URL) and signed cookies for a folder, each after the view's own access check."""

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path

from cfsign.django import redirect_to_signed_url, set_signed_cookies


def download(request: HttpRequest, name: str) -> HttpResponse:
    if request.GET.get("user") != "paid":
        return HttpResponseForbidden("not for you")
    return redirect_to_signed_url(name)


def course(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("welcome")
    host = request.GET["host"]
    set_signed_cookies(response, f"http://{host}/docs/*", expires_in=600, path="/docs/")
    return response


urlpatterns = [
    path("download/<path:name>", download),
    path("course", course),
]
