"""`flask feeds add|list|poll|enable|disable` and `flask reviews list`."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.feeds.conftest import FeedServer, read


@pytest.mark.usefixtures("loaded_catalogue")
def test_add_list_and_poll_a_source(
    feeds_app: Flask, runner: FlaskCliRunner, feed_server: FeedServer
):
    url = feed_server.feed("/feed", read("rss_basic.xml"))

    added = runner.invoke(args=["feeds", "add", url, "--name", "Test news"])
    polled = runner.invoke(args=["feeds", "poll", "--source", "1"])
    listed = runner.invoke(args=["feeds", "list"])
    reviews = runner.invoke(args=["reviews", "list"])

    assert added.exit_code == 0, added.output
    assert added.output.startswith("Added feed source #1: Test news")
    assert polled.exit_code == 0, polled.output
    assert "#1 Test news: ok; 3 new, 0 revised, 2 review(s) opened" in polled.output
    assert "ok" in listed.output and "Test news" in listed.output
    assert reviews.exit_code == 0
    assert "test-dsa" in reviews.output and "2 shown; 2 new" in reviews.output


def test_refusals_and_failures_exit_non_zero(
    feeds_app: Flask, runner: FlaskCliRunner, feed_server: FeedServer
):
    refused = runner.invoke(args=["feeds", "add", "http://169.254.169.254/"])
    assert refused.exit_code == 1
    assert "cloud metadata address" in refused.output

    runner.invoke(args=["feeds", "add", feed_server.url("/missing")])
    failed = runner.invoke(args=["feeds", "poll", "--source", "1"])
    assert failed.exit_code == 1
    assert "failed (HTTP 404 Not Found)" in failed.output
    assert "HTTP 404" in runner.invoke(args=["feeds", "list", "--problems"]).output
    both = runner.invoke(args=["feeds", "poll", "--source", "1", "--all"])
    assert both.exit_code == 2


def test_enable_and_disable(feeds_app: Flask, runner: FlaskCliRunner):
    # Never polled: only the test server on 127.0.0.1 may be fetched in tests.
    runner.invoke(args=["feeds", "add", "https://regulator.example/rss"])

    assert "disabled" in runner.invoke(args=["feeds", "disable", "1"]).output
    assert "(disabled)" in runner.invoke(args=["feeds", "list"]).output
    assert "enabled" in runner.invoke(args=["feeds", "enable", "1"]).output
