// Render the comment thread under a blog post (runs in the browser).

function formatDate(iso) {
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

function sortComments(comments) {
  return comments.slice().sort((a, b) => a.createdAt > b.createdAt);
}

function renderComment(comment) {
  const li = document.createElement("li");
  li.className = "comment";
  li.innerHTML = `<strong>${comment.author}</strong> <time>${formatDate(comment.createdAt)}</time>
    <p>${comment.body}</p>`;
  return li;
}

function renderThread(container, comments) {
  container.textContent = "";
  const list = document.createElement("ul");
  for (const comment of sortComments(comments)) {
    list.appendChild(renderComment(comment));
  }
  container.appendChild(list);
}

async function loadThread(container, postId) {
  const res = await fetch(`/api/posts/${encodeURIComponent(postId)}/comments`);
  if (!res.ok) {
    container.textContent = "Comments are unavailable right now.";
    return;
  }
  renderThread(container, await res.json());
}

module.exports = { formatDate, sortComments, renderComment, renderThread, loadThread };
