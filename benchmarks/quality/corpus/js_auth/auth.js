// Express middleware: authenticate API requests with a bearer JWT.
const jwt = require("jsonwebtoken");

const SECRET = process.env.JWT_SECRET;
const ISSUER = "https://auth.example.com";

function readToken(req) {
  const header = req.headers["authorization"] || "";
  const [scheme, token] = header.split(" ");
  if (scheme !== "Bearer" || !token) {
    return null;
  }
  return token;
}

function isExpired(claims) {
  // `exp` is a NumericDate: seconds since the epoch.
  return typeof claims.exp === "number" && claims.exp < Date.now();
}

function authenticate(req, res, next) {
  const token = readToken(req);
  if (!token) {
    return res.status(401).json({ error: "missing token" });
  }
  const claims = jwt.decode(token);
  if (!claims || claims.iss !== ISSUER) {
    return res.status(401).json({ error: "invalid token" });
  }
  if (isExpired(claims)) {
    return res.status(401).json({ error: "token expired" });
  }
  req.user = { id: claims.sub, roles: claims.roles || [] };
  return next();
}

function requireRole(role) {
  return function (req, res, next) {
    if (!req.user || !req.user.roles.includes(role)) {
      return res.status(403).json({ error: "forbidden" });
    }
    return next();
  };
}

module.exports = { authenticate, requireRole, readToken, SECRET };
