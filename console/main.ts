// The console's entry: the stylesheets, a hash router and the page frame.
//   #/                      overview (broker, topics, groups, throughput)
//   #/topics/NAME           one topic: partitions, configuration, produce, admin
//   #/topics/NAME/messages  the message browser
//   #/groups/ID             one consumer group

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.ts";
import { GroupPage } from "./pages/group.ts";
import { MessagesPage } from "./pages/messages.ts";
import { OverviewPage } from "./pages/overview.ts";
import { TopicPage } from "./pages/topic.ts";

export interface Route {
  page: "overview" | "topic" | "messages" | "group" | "missing";
  name: string;
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path, search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter((p) => p !== "");
  const query = new URLSearchParams(search);
  const name = parts[1] === undefined ? "" : safeDecode(parts[1]);
  if (parts.length === 0) return { page: "overview", name: "", query };
  if (parts[0] === "topics" && parts.length === 2) return { page: "topic", name, query };
  if (parts[0] === "topics" && parts.length === 3 && parts[2] === "messages") return { page: "messages", name, query };
  if (parts[0] === "groups" && parts.length === 2) return { page: "group", name, query };
  return { page: "missing", name: path, query };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return parseRoute(hash);
}

function App() {
  const route = useRoute();
  let page;
  switch (route.page) {
    case "overview":
      page = html`<${OverviewPage} />`;
      break;
    case "topic":
      page = html`<${TopicPage} key=${route.name} topic=${route.name} />`;
      break;
    case "messages":
      page = html`<${MessagesPage} key=${route.name} topic=${route.name} query=${route.query} />`;
      break;
    case "group":
      page = html`<${GroupPage} key=${route.name} groupId=${route.name} />`;
      break;
    default:
      page = html`<div class="card"><h2>Not found</h2><p>No page at <code>${route.name}</code>. <a href="#/">Back to the overview</a>.</p></div>`;
  }
  return html`<header class="top">
      <a class="brand" href="#/"><span class="logo">≋</span> Sluice</a>
      <nav><a href="#/" class=${route.page === "overview" ? "active" : ""}>Overview</a></nav>
    </header>
    <main>${page}</main>`;
}

const root = document.getElementById("app")!;
root.textContent = ""; // the page's "Loading…" line
render(html`<${App} />`, root);
