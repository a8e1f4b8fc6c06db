"""Feed documents as servers write them: RSS 2.0 (WordPress, Hacker News, ISO-8859-1), RSS 1.0
(RDF), Atom 1.0, and a web page where a feed was expected."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from workbench.synth._exchange import iso, rfc822
from workbench.synth._words import Story, html_paragraphs


@dataclass
class FeedEntry:
    story: Story
    guid: str
    link: str
    title: str | None = None
    content_html: str | None = None


def rss2_wordpress(
    title: str, site: str, feed_url: str, entries: list[FeedEntry], now: datetime
) -> bytes:
    items = []
    for e in entries:
        s = e.story
        content = e.content_html if e.content_html is not None else html_paragraphs(s.body)
        summary = html.escape(s.body.split("\n\n")[0][:200], quote=False)
        cats = "".join(f"<category><![CDATA[{c}]]></category>" for c in s.extra.get("tags", []))
        items.append(
            f"""
		<item>
		<title>{escape(e.title or s.title)}</title>
		<link>{escape(e.link)}</link>
		<dc:creator><![CDATA[{s.author}]]></dc:creator>
		<pubDate>{rfc822(s.published)}</pubDate>
		{cats}
		<guid isPermaLink="false">{escape(e.guid)}</guid>
		<description>{escape(summary)}</description>
		<content:encoded><![CDATA[{content}]]></content:encoded>
		<slash:comments>{s.extra.get("comments", 0)}</slash:comments>
		</item>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{escape(title)}</title>
	<atom:link href="{escape(feed_url)}" rel="self" type="application/rss+xml" />
	<link>{escape(site)}</link>
	<description>Updates, ideas, and inspiration.</description>
	<lastBuildDate>{rfc822(now)}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.5.3</generator>{"".join(items)}
	</channel>
</rss>
""".encode()


def rss2_hn(entries: list[FeedEntry]) -> bytes:
    items = "".join(
        f"<item><title>{escape(e.story.title)}</title><link>{escape(e.link)}</link>"
        f"<pubDate>{rfc822(e.story.published)}</pubDate>"
        f"<comments>https://news.ycombinator.com/item?id={e.guid}</comments>"
        f'<description><![CDATA[<a href="https://news.ycombinator.com/item?id={e.guid}">'
        f"Comments</a>]]></description></item>"
        for e in entries
    )
    return (
        '<rss version="2.0"><channel><title>Hacker News</title>'
        "<link>https://news.ycombinator.com/</link>"
        "<description>Links for the intellectually curious, ranked by readers.</description>"
        f"{items}</channel></rss>"
    ).encode()


def rss1_lwn(entries: list[FeedEntry]) -> bytes:
    seq = "".join(f'<rdf:li resource="{escape(e.link)}" />' for e in entries)
    items = "".join(
        f"""
<item rdf:about="{escape(e.link)}">
  <title>{escape(e.story.title)}</title>
  <link>{escape(e.link)}</link>
  <description>{escape(html_paragraphs(e.story.body))}</description>
  <dc:date>{iso(e.story.published)}</dc:date>
  <dc:creator>{escape(e.story.author)}</dc:creator>
</item>"""
        for e in entries
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://lwn.net">
  <title>LWN.net</title>
  <link>https://lwn.net</link>
  <description>LWN.net is a comprehensive source of news and opinions from
        and about the Linux community.</description>
  <items><rdf:Seq>{seq}</rdf:Seq></items>
</channel>{items}
</rdf:RDF>
""".encode()


def atom(
    title: str, site: str, feed_url: str, feed_id: str, entries: list[FeedEntry], now: datetime
) -> bytes:
    body = "".join(
        f"""
  <entry>
    <id>{escape(e.guid)}</id>
    <published>{iso(e.story.published)}</published>
    <updated>{iso(e.story.published + timedelta(minutes=7))}</updated>
    <title type="text">{escape(e.title or e.story.title)}</title>
    <content type="html">{escape(e.content_html or html_paragraphs(e.story.body))}</content>
    <link rel="alternate" type="text/html" href="{escape(e.link)}" title="{escape(e.story.title, {'"': "&quot;"})}"/>
    <author><name>{escape(e.story.author)}</name></author>
    {"".join(f'<category term="{escape(c)}"/>' for c in e.story.extra.get("tags", []))}
  </entry>"""
        for e in entries
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <id>{escape(feed_id)}</id>
  <title type="text">{escape(title)}</title>
  <updated>{iso(now)}</updated>
  <link rel="alternate" type="text/html" href="{escape(site)}"/>
  <link rel="self" type="application/atom+xml" href="{escape(feed_url)}"/>
  <generator uri="https://example.invalid/generator">workbench synth</generator>{body}
</feed>
""".encode()


def rss2_latin1(entries: list[FeedEntry], now: datetime) -> bytes:
    items = "".join(
        f"""<item>
<title>{escape(e.story.title)}</title>
<link>{escape(e.link)}</link>
<description><![CDATA[{html_paragraphs(e.story.body)}]]></description>
<pubDate>{rfc822(e.story.published)}</pubDate>
<guid isPermaLink="false">{escape(e.guid)}</guid>
<dc:creator>{escape(e.story.author)}</dc:creator>
</item>
"""
        for e in entries
    )
    doc = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>Golem.de - Entwicklung</title>
<link>https://www.golem.de/specials/softwareentwicklung/</link>
<description>IT-News für Profis: Softwareentwicklung</description>
<language>de</language>
<lastBuildDate>{rfc822(now)}</lastBuildDate>
{items}</channel>
</rss>
"""
    return doc.encode("iso-8859-1")


INFOQ_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>InfoQ - Software Development News, Trends &amp; Best Practices</title>
<link rel="stylesheet" href="/styles/main.css">
<script>window.dataLayer = window.dataLayer || []; if (a < b && c) { run(); }</script>
</head>
<body class="home">
<header><nav><a href="/development/">Development</a> <a href="/architecture-design/">Architecture</a>
<a href="/ai-ml-data-eng/">AI, ML &amp; Data Engineering</a></nav></header>
<main>
<h1>Our RSS feeds have moved</h1>
<p>Please update your reader: see <a href="/rss/">all InfoQ feeds</a>.<br>
<img src="/img/rss.png" alt="RSS">
</main>
<footer><p>&copy; 2006-2024 C4Media</p></footer>
</body>
</html>
"""


# -- how a feed is written ---------------------------------------------------------------
Render = Callable[[list[FeedEntry], str, datetime], bytes]  # entries, feed URL, build time


@dataclass(frozen=True)
class Document:
    """How a feed URL's answer is written, and how it travels."""

    render: Render
    mime: str
    base64: bool = False  # kept as base64 in the HAR (bytes in a legacy charset)
    compressed: bool = True  # sent gzip-compressed


def hacker_news_rss() -> Document:
    return Document(lambda entries, _url, _now: rss2_hn(entries),
                    "application/rss+xml; charset=utf-8")  # fmt: skip


def lwn_rdf() -> Document:
    return Document(lambda entries, _url, _now: rss1_lwn(entries), "application/rss+xml")


def atom_feed(title: str, site: str, feed_id: str, mime: str = "application/atom+xml") -> Document:
    return Document(lambda entries, url, now: atom(title, site, url, feed_id, entries, now), mime)


def wordpress_rss(title: str, site: str, mime: str = "application/rss+xml") -> Document:
    return Document(lambda entries, url, now: rss2_wordpress(title, site, url, entries, now),
                    mime)  # fmt: skip


def latin1_rss() -> Document:
    return Document(lambda entries, _url, now: rss2_latin1(entries, now),
                    "application/rss+xml; charset=ISO-8859-1", base64=True, compressed=False)  # fmt: skip


def html_page(text: str = INFOQ_HTML) -> Document:
    """Not a feed: the URL answers with a web page (a feed that moved)."""
    return Document(lambda _entries, _url, _now: text.encode(), "text/html; charset=utf-8")
