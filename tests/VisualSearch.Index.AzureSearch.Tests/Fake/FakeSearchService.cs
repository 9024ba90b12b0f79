using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Azure.Core.Pipeline;

namespace VisualSearch.Index.AzureSearch.Tests.Fake;

/// <summary>A request as the fake received it.</summary>
public sealed record RecordedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body, string Operation)
{
    public int Status { get; set; }

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>
/// An in-process Azure AI Search service for the data-plane REST API 2023-11-01 and 2024-07-01, reached through an
/// <see cref="HttpMessageHandler"/> (the SDK's transport). Every request is checked against the documented
/// API: https and the service host, the path forms of the REST specification (<c>/indexes('name')</c>,
/// <c>/docs/search.index</c>, <c>/docs/search.post.search</c>, <c>/docs('key')</c>, <c>/docs/$count</c>, and
/// the equivalent <c>/indexes/name/docs/...</c> forms), <c>api-version</c> 2023-11-01 or 2024-07-01, the
/// <c>api-key</c> header or a Bearer token, and the JSON body (known properties only, value ranges, field types,
/// key characters, vector dimensions, the 1,000-document and 16 MB batch limits). An index definition is checked
/// against its request's version: 2024-07-01 adds <c>vectorSearch.compressions</c>, <c>profiles[].compression</c>
/// and the field attribute <c>stored</c> (rules in <see cref="ValidateStored"/> and
/// <see cref="ValidateVectorSearch"/>); a 2023-11-01 GET shows an index without them. A request that breaks a
/// rule gets the 4xx the service would send and is listed in <see cref="Violations"/>. Indexes live in memory;
/// vector queries are exact cosine k-NN with the documented score 1 / (1 + (1 - cosine)) and the $filter subset
/// of <see cref="FakeODataFilter"/>; <c>$orderby</c> on sortable fields (at most 32 clauses; without it, equal
/// scores come in a scrambled order), <c>skip</c> up to 100,000, at most 1,000 results a response (a larger
/// <c>top</c> gets <c>@odata.nextLink</c> and <c>@search.nextPageParameters</c>); on a field with scalar
/// quantization the candidates are ranked by their int8 copies (<see cref="QuantizedScores"/>) and, with
/// <c>rerankWithOriginalVectors</c>, k x oversampling of them
/// re-scored with the originals. Faults can be scripted: 429/503 with Retry-After, and documents refused one
/// by one in a 207 multi-status answer.
/// </summary>
public sealed partial class FakeSearchService : HttpMessageHandler
{
    public const string ApiVersion = "2023-11-01";
    public const string ApiVersion2024 = "2024-07-01";
    public const int MaxBatchDocuments = 1000;
    public const int MaxRequestBytes = 16 * 1024 * 1024;
    public const int MaxDimensions = 2048;

    /// <summary>The largest skip a search takes (REST 2023-11-01).</summary>
    public const int MaxSkip = 100_000;

    /// <summary>The most results one search response holds; the rest come with @odata.nextLink and @search.nextPageParameters.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>The most $orderby clauses.</summary>
    public const int MaxOrderByClauses = 32;

    private static readonly HashSet<string> IndexProperties =
    [
        "name", "fields", "scoringProfiles", "defaultScoringProfile", "corsOptions", "suggesters", "analyzers", "tokenizers",
        "tokenFilters", "charFilters", "encryptionKey", "similarity", "semantic", "vectorSearch", "@odata.etag", "@odata.context",
    ];

    private static readonly HashSet<string> FieldProperties =
    [
        "name", "type", "key", "retrievable", "searchable", "filterable", "sortable", "facetable", "analyzer", "searchAnalyzer",
        "indexAnalyzer", "dimensions", "vectorSearchProfile", "synonymMaps", "fields",
    ];

    /// <summary>2024-07-01 adds <c>stored</c> (and <c>vectorEncoding</c>, for packed binary vectors, which this fake does not model).</summary>
    private static readonly HashSet<string> FieldProperties2024 = [.. FieldProperties, "stored"];

    /// <summary>The vector types of 2024-07-01 (2023-11-01 has Collection(Edm.Single) only); compression applies to the float ones.</summary>
    private static readonly HashSet<string> VectorTypes2024 = ["Collection(Edm.Single)", "Collection(Edm.Half)", "Collection(Edm.Int16)", "Collection(Edm.SByte)"];

    private static readonly HashSet<string> FieldTypes =
    [
        "Edm.String", "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Boolean", "Edm.DateTimeOffset", "Edm.GeographyPoint", "Edm.ComplexType",
        "Collection(Edm.String)", "Collection(Edm.Int32)", "Collection(Edm.Int64)", "Collection(Edm.Double)", "Collection(Edm.Boolean)",
        "Collection(Edm.DateTimeOffset)", "Collection(Edm.GeographyPoint)", "Collection(Edm.ComplexType)", "Collection(Edm.Single)",
    ];

    private static readonly HashSet<string> SearchProperties =
    [
        "count", "facets", "filter", "highlight", "highlightPostTag", "highlightPreTag", "minimumCoverage", "orderby", "queryType",
        "scoringStatistics", "sessionId", "scoringParameters", "scoringProfile", "search", "searchFields", "searchMode", "select",
        "skip", "top", "semanticConfiguration", "semanticErrorHandling", "semanticMaxWaitInMilliseconds", "answers", "captions",
        "vectorQueries", "vectorFilterMode",
    ];

    private readonly ConcurrentDictionary<string, FakeIndex> _indexes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Fault> _faults = new();
    private readonly ConcurrentDictionary<string, (int Status, string Message, int Times)> _documentFaults = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly Lock _gate = new();

    public FakeSearchService(string? apiKey = "fake-admin-key", string? bearerToken = null)
    {
        ApiKey = apiKey;
        BearerToken = bearerToken;
    }

    public Uri Endpoint { get; } = new("https://fake-search.search.windows.net");

    /// <summary>The admin key the service accepts in the api-key header (null: keys are disabled).</summary>
    public string? ApiKey { get; }

    /// <summary>The token the service accepts as "Authorization: Bearer" (null: tokens are not accepted).</summary>
    public string? BearerToken { get; }

    /// <summary>Time each answer takes (a real service answers in milliseconds, not microseconds).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Every request, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Requests that broke a documented rule (each was answered with the service's 4xx).</summary>
    public IReadOnlyList<string> Violations => [.. _violations];

    /// <summary>Index names.</summary>
    public IReadOnlyCollection<string> IndexNames => [.. _indexes.Keys];

    /// <summary>The stored definition of an index, as JSON.</summary>
    public JsonObject? Definition(string index) => _indexes.TryGetValue(index, out var i) ? (JsonObject)i.Definition.DeepClone() : null;

    /// <summary>The stored documents of an index, by key.</summary>
    public IReadOnlyDictionary<string, JsonObject> Documents(string index)
    {
        lock (_gate) return _indexes.TryGetValue(index, out var i) ? i.Documents.ToDictionary(d => d.Key, d => (JsonObject)d.Value.DeepClone()) : [];
    }

    /// <summary>A transport for <c>SearchClientOptions.Transport</c> that sends every request here.</summary>
    public HttpPipelineTransport Transport() => new HttpClientTransport(new HttpClient(this, disposeHandler: false));

    /// <summary>The next <paramref name="times"/> requests for <paramref name="operation"/> (e.g. "index", "search") get <paramref name="status"/>.</summary>
    public void FailNext(string operation, HttpStatusCode status, int times = 1, string? retryAfter = null)
    {
        for (var i = 0; i < times; i++) _faults.Enqueue(new Fault(operation, status, retryAfter));
    }

    /// <summary>The document with <paramref name="key"/> is refused in the next <paramref name="times"/> batches that carry it (a 207 answer).</summary>
    public void FailDocument(string key, int status, string message, int times = int.MaxValue) =>
        _documentFaults[key] = (status, message, times);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (Latency > TimeSpan.Zero) await Task.Delay(Latency, cancellationToken).ConfigureAwait(false);
        var uri = request.RequestUri ?? throw new InvalidOperationException("No request URI.");
        var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var path = Uri.UnescapeDataString(uri.AbsolutePath);
        var route = Route(request.Method.Method, path);
        var recorded = new RecordedRequest(request.Method.Method, path, uri.Query, headers, body, route?.Operation ?? "unknown");
        _requests.Enqueue(recorded);
        var response = Handle(request, recorded, route, body, headers, uri);
        recorded.Status = (int)response.StatusCode;
        response.RequestMessage = request;
        return response;
    }

    private HttpResponseMessage Handle(HttpRequestMessage request, RecordedRequest recorded, RouteMatch? route, byte[] body, Dictionary<string, string> headers, Uri uri)
    {
        if (uri.Scheme != Uri.UriSchemeHttps || uri.Host != Endpoint.Host)
            return Violation(HttpStatusCode.BadRequest, $"{recorded.Method} {uri}: not https://{Endpoint.Host}");
        var query = ParseQuery(uri.Query);
        if (!query.TryGetValue("api-version", out var version))
            return Violation(HttpStatusCode.BadRequest, $"{recorded.Method} {recorded.Path}: no api-version", "MissingApiVersionParameter");
        if (version is not (ApiVersion or ApiVersion2024))
            return Violation(HttpStatusCode.BadRequest, $"{recorded.Method} {recorded.Path}: api-version {version}, not {ApiVersion} or {ApiVersion2024}", "InvalidApiVersionParameter");
        if (!Authorized(headers))
            return Violation(HttpStatusCode.Unauthorized, $"{recorded.Method} {recorded.Path}: no valid api-key header or Bearer token");
        if (route is null) return Violation(HttpStatusCode.NotFound, $"{recorded.Method} {recorded.Path}: not a documented path");
        if (body.Length > MaxRequestBytes)
            return Violation(HttpStatusCode.RequestEntityTooLarge, $"{recorded.Method} {recorded.Path}: {body.Length} bytes, over the 16 MB request limit");
        if (body.Length > 0 && !(headers.GetValueOrDefault("Content-Type") ?? "").StartsWith("application/json", StringComparison.Ordinal))
            return Violation(HttpStatusCode.UnsupportedMediaType, $"{recorded.Method} {recorded.Path}: Content-Type is not application/json");

        foreach (var fault in _faults)
        {
            if (fault.Operation != route.Operation) continue;
            if (!TryTakeFault(fault)) continue;
            var failed = Error(fault.Status, fault.Status == HttpStatusCode.TooManyRequests ? "The request was throttled." : "The service is unavailable.");
            if (fault.RetryAfter is not null) failed.Headers.TryAddWithoutValidation("Retry-After", fault.RetryAfter);
            return failed;
        }

        try
        {
            return route.Operation switch
            {
                "list-indexes" => ListIndexes(),
                "get-index" => GetIndex(route.Index!, version),
                "put-index" => PutIndex(route.Index!, body, version),
                "delete-index" => DeleteIndex(route.Index!),
                "index" => IndexDocuments(route.Index!, body),
                "search" => Search(route.Index!, body, version),
                "lookup" => Lookup(route.Index!, route.Key!, query.GetValueOrDefault("$select")),
                "count" => Count(route.Index!),
                _ => Violation(HttpStatusCode.NotFound, $"{recorded.Method} {recorded.Path}: not supported"),
            };
        }
        catch (RestViolation ex)
        {
            return Violation(ex.Status, $"{recorded.Method} {recorded.Path}: {ex.Message}");
        }
        catch (JsonException ex)
        {
            return Violation(HttpStatusCode.BadRequest, $"{recorded.Method} {recorded.Path}: malformed JSON: {ex.Message}");
        }
    }

    private bool TryTakeFault(Fault fault)
    {
        lock (_gate)
        {
            var kept = new List<Fault>();
            var taken = false;
            while (_faults.TryDequeue(out var f))
            {
                if (!taken && ReferenceEquals(f, fault)) taken = true;
                else kept.Add(f);
            }

            foreach (var f in kept) _faults.Enqueue(f);
            return taken;
        }
    }

    private bool Authorized(Dictionary<string, string> headers)
    {
        if (ApiKey is not null && headers.TryGetValue("api-key", out var key) && key == ApiKey) return true;
        return BearerToken is not null && headers.TryGetValue("Authorization", out var auth) && auth == "Bearer " + BearerToken;
    }

    private sealed record RouteMatch(string Operation, string? Index = null, string? Key = null);

    /// <summary>The documented path forms: OData key syntax (the REST specification's) and the slash forms of the reference pages.</summary>
    private static RouteMatch? Route(string method, string path)
    {
        if (path == "/indexes") return method == "GET" ? new RouteMatch("list-indexes") : null;
        var m = IndexPath().Match(path);
        if (!m.Success) return null;
        var index = m.Groups["q"].Success ? m.Groups["q"].Value : m.Groups["s"].Value;
        var rest = m.Groups["rest"].Value;
        return (method, rest) switch
        {
            ("GET", "") => new RouteMatch("get-index", index),
            ("PUT", "") => new RouteMatch("put-index", index),
            ("DELETE", "") => new RouteMatch("delete-index", index),
            ("POST", "/docs/search.index" or "/docs/index") => new RouteMatch("index", index),
            ("POST", "/docs/search.post.search" or "/docs/search") => new RouteMatch("search", index),
            ("GET", "/docs/$count") => new RouteMatch("count", index),
            ("GET", _) when DocPath().Match(rest) is { Success: true } d => new RouteMatch("lookup", index, d.Groups["q"].Success ? d.Groups["q"].Value.Replace("''", "'", StringComparison.Ordinal) : d.Groups["s"].Value),
            _ => null,
        };
    }

    [GeneratedRegex(@"^/indexes(?:\('(?<q>[^']+)'\)|/(?<s>[^/()]+))(?<rest>/.*)?$")]
    private static partial Regex IndexPath();

    [GeneratedRegex(@"^/docs(?:\('(?<q>(?:[^']|'')+)'\)|/(?<s>[^/$]+))$")]
    private static partial Regex DocPath();

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,127}$")]
    private static partial Regex IndexNamePattern();

    [GeneratedRegex("^[A-Za-z0-9_=-]{1,1024}$")]
    private static partial Regex KeyPattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]{0,127}$")]
    private static partial Regex FieldNamePattern();

    [GeneratedRegex(@"^(?<f>search\.score\(\)|[A-Za-z][A-Za-z0-9_]*)(?:\s+(?<d>asc|desc))?$")]
    private static partial Regex OrderByClause();

    private HttpResponseMessage ListIndexes()
    {
        var value = new JsonArray();
        foreach (var name in _indexes.Keys.Order(StringComparer.Ordinal)) value.Add(new JsonObject { ["name"] = name });
        return Json(HttpStatusCode.OK, new JsonObject { ["value"] = value });
    }

    private HttpResponseMessage GetIndex(string name, string version) =>
        _indexes.TryGetValue(name, out var index)
            ? Json(HttpStatusCode.OK, version == ApiVersion ? As2023(index.Definition) : index.Definition.DeepClone())
            : Error(HttpStatusCode.NotFound, $"No index with the name '{name}' was found in the service 'fake-search'.");

    /// <summary>A definition as a 2023-11-01 answer shows it: without the properties that version does not have.</summary>
    private static JsonObject As2023(JsonObject definition)
    {
        var copy = (JsonObject)definition.DeepClone();
        foreach (var field in ((JsonArray)copy["fields"]!).OfType<JsonObject>()) field.Remove("stored");
        if (copy["vectorSearch"] is JsonObject vectorSearch)
        {
            vectorSearch.Remove("compressions");
            foreach (var profile in (vectorSearch["profiles"] as JsonArray ?? []).OfType<JsonObject>()) profile.Remove("compression");
        }

        return copy;
    }

    /// <summary>True if a definition uses what only 2024-07-01 can express (a 2023-11-01 PUT would drop it).</summary>
    private static bool Uses2024Features(JsonObject definition) =>
        !JsonNode.DeepEquals(As2023(definition), definition.DeepClone() is JsonObject d ? StripDefaults(d) : null);

    private static JsonObject StripDefaults(JsonObject definition)
    {
        // "stored: true" is every field's default, not a feature.
        foreach (var field in ((JsonArray)definition["fields"]!).OfType<JsonObject>())
        {
            if ((bool?)field["stored"] != false) field.Remove("stored");
        }

        return definition;
    }

    private HttpResponseMessage DeleteIndex(string name) =>
        _indexes.TryRemove(name, out _)
            ? new HttpResponseMessage(HttpStatusCode.NoContent)
            : Error(HttpStatusCode.NotFound, $"No index with the name '{name}' was found in the service 'fake-search'.");

    private HttpResponseMessage PutIndex(string name, byte[] body, string version)
    {
        if (!IndexNamePattern().IsMatch(name)) throw new RestViolation($"invalid index name '{name}'");
        var definition = JsonNode.Parse(body) as JsonObject ?? throw new RestViolation("the body is not a JSON object");
        Allowed(definition, IndexProperties, "index");
        if ((string?)definition["name"] != name) throw new RestViolation($"the body's name '{definition["name"]}' is not the path's '{name}'");
        var fields = definition["fields"] as JsonArray ?? throw new RestViolation("the index has no fields");
        var is2024 = version == ApiVersion2024;
        var profiles = ValidateVectorSearch(definition["vectorSearch"], is2024);
        var keys = 0;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in fields)
        {
            var field = node as JsonObject ?? throw new RestViolation("a field is not an object");
            Allowed(field, is2024 ? FieldProperties2024 : FieldProperties, is2024 ? "field" : "field (2023-11-01 has no 'stored')");
            var fieldName = (string?)field["name"] ?? throw new RestViolation("a field has no name");
            if (!FieldNamePattern().IsMatch(fieldName) || !names.Add(fieldName)) throw new RestViolation($"invalid or repeated field name '{fieldName}'");
            var type = (string?)field["type"] ?? "";
            if (!FieldTypes.Contains(type) && !(is2024 && VectorTypes2024.Contains(type))) throw new RestViolation($"field '{fieldName}' has the unknown type '{type}'");
            var isVectorField = type == "Collection(Edm.Single)" || (is2024 && VectorTypes2024.Contains(type));
            if ((bool?)field["key"] == true)
            {
                keys++;
                if (type != "Edm.String") throw new RestViolation("the key field must be Edm.String");
            }

            if (isVectorField)
            {
                var dimensions = (int?)field["dimensions"] ?? throw new RestViolation($"vector field '{fieldName}' has no dimensions");
                if (dimensions < 2 || dimensions > MaxDimensions) throw new RestViolation($"vector field '{fieldName}': dimensions must be 2-{MaxDimensions}");
                var profile = (string?)field["vectorSearchProfile"] ?? throw new RestViolation($"vector field '{fieldName}' has no vectorSearchProfile");
                if (!profiles.TryGetValue(profile, out var compressed)) throw new RestViolation($"vector field '{fieldName}' names the unknown profile '{profile}'");
                if (compressed && type is not ("Collection(Edm.Single)" or "Collection(Edm.Half)"))
                    throw new RestViolation($"vector field '{fieldName}' ({type}): compression applies to Collection(Edm.Single) and Collection(Edm.Half) only");
                if ((bool?)field["searchable"] != true) throw new RestViolation($"vector field '{fieldName}' must be searchable");
                if ((bool?)field["filterable"] == true || (bool?)field["sortable"] == true || (bool?)field["facetable"] == true)
                    throw new RestViolation($"vector field '{fieldName}' cannot be filterable, sortable or facetable");
            }
            else if (field["dimensions"] is not null || field["vectorSearchProfile"] is not null)
            {
                throw new RestViolation($"field '{fieldName}' is not a vector field but has dimensions or a profile");
            }
        }

        if (keys != 1) throw new RestViolation($"an index needs exactly one key field, this one has {keys}");
        _indexes.TryGetValue(name, out var before);
        ValidateStored(fields.OfType<JsonObject>(), before?.Definition);
        if (!is2024 && before is not null && Uses2024Features(before.Definition))
            throw new RestViolation($"the index '{name}' uses compression or 'stored' (2024-07-01); a {ApiVersion} definition cannot express them " +
                "(unverified how the service answers: this fake refuses, so the product never relies on it)");

        lock (_gate)
        {
            var stored = (JsonObject)definition.DeepClone();
            foreach (var field in ((JsonArray)stored["fields"]!).OfType<JsonObject>())
            {
                var isVector = (string?)field["type"] == "Collection(Edm.Single)";
                field["retrievable"] ??= true;
                if (is2024) field["stored"] ??= true;
                field["searchable"] ??= (string?)field["type"] is "Edm.String" or "Collection(Edm.String)" || isVector;
                field["filterable"] ??= !isVector;
                field["sortable"] ??= !isVector && !((string?)field["type"])!.StartsWith("Collection", StringComparison.Ordinal);
                field["facetable"] ??= !isVector;
                field["key"] ??= false;
            }

            stored["@odata.etag"] = "\"0x" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant() + "\"";
            if (_indexes.TryGetValue(name, out var existing))
            {
                foreach (var old in ((JsonArray)existing.Definition["fields"]!).OfType<JsonObject>())
                {
                    var now = ((JsonArray)stored["fields"]!).OfType<JsonObject>().FirstOrDefault(f => (string?)f["name"] == (string?)old["name"]);
                    if (now is null) throw new RestViolation($"field '{old["name"]}' cannot be removed from an existing index", HttpStatusCode.BadRequest);
                    foreach (var attribute in new[] { "type", "key", "dimensions", "searchable", "filterable", "sortable", "facetable", "vectorSearchProfile" })
                    {
                        if (!JsonNode.DeepEquals(old[attribute], now[attribute]))
                            throw new RestViolation($"the '{attribute}' of existing field '{old["name"]}' cannot change", HttpStatusCode.BadRequest);
                    }
                }

                if (!is2024) KeepAbsent2024(existing.Definition, stored);
                CheckCompressionsKept(existing.Definition, stored);
                existing.Definition = stored;
                return Json(HttpStatusCode.OK, stored.DeepClone());
            }

            _indexes[name] = new FakeIndex(stored);
            return Json(HttpStatusCode.Created, stored.DeepClone());
        }
    }

    /// <summary>
    /// The attribute <c>stored</c> (2024-07-01). The REST reference for SearchField.stored (2024-07-01) says: "An immutable
    /// value indicating whether the field will be persisted separately on disk to be returned in a search result ...
    /// This can only be set during index creation and only for vector fields. This property cannot be changed for existing
    /// fields or set as false for new fields. If this property is set as false, the property 'retrievable' must also be
    /// set to false. This property must be true or unset for key fields, for new fields, and for non-vector fields".
    /// The rules enforced here, from that text: false only on a vector field; false only with retrievable false; never
    /// false on a key field; never changed on an existing field; never false on a field added to an existing index.
    /// </summary>
    private static void ValidateStored(IEnumerable<JsonObject> fields, JsonObject? existing)
    {
        var old = existing is null ? null
            : ((JsonArray)existing["fields"]!).OfType<JsonObject>().ToDictionary(f => (string)f["name"]!, StringComparer.Ordinal);
        foreach (var field in fields)
        {
            var name = (string)field["name"]!;
            var stored = (bool?)field["stored"];
            if (stored == false)
            {
                if (field["dimensions"] is null) throw new RestViolation($"field '{name}': 'stored' can be false only on a vector field");
                if ((bool?)field["key"] == true) throw new RestViolation($"field '{name}': 'stored' must be true or unset on the key field");
                if ((bool?)field["retrievable"] != false) throw new RestViolation($"field '{name}': when 'stored' is false, 'retrievable' must also be false");
            }

            if (old is null) continue;
            if (!old.TryGetValue(name, out var before))
            {
                if (stored == false) throw new RestViolation($"field '{name}': 'stored' cannot be false on a field added to an existing index");
            }
            else if ((bool?)before["stored"] is { } wasStored && (stored ?? true) != wasStored)
            {
                throw new RestViolation($"the 'stored' of existing field '{name}' cannot change");
            }
        }
    }

    /// <summary>A 2023-11-01 update of an index leaves the <c>stored</c> it cannot see as it was.</summary>
    private static void KeepAbsent2024(JsonObject before, JsonObject now)
    {
        foreach (var field in ((JsonArray)now["fields"]!).OfType<JsonObject>())
        {
            var old = ((JsonArray)before["fields"]!).OfType<JsonObject>().FirstOrDefault(f => (string?)f["name"] == (string?)field["name"]);
            field["stored"] = old?["stored"]?.DeepClone() ?? true;
        }
    }

    /// <summary>
    /// A compression a vector field's profile uses cannot be removed or change its kind or data type (that would change
    /// the stored quantized vectors). <c>rerankWithOriginalVectors</c> and <c>defaultOversampling</c> are query-time
    /// settings and are allowed to change: not verified against the service (the product never changes them in place).
    /// </summary>
    private static void CheckCompressionsKept(JsonObject before, JsonObject now)
    {
        foreach (var (field, compression) in UsedCompressions(before))
        {
            var after = UsedCompressions(now).FirstOrDefault(c => c.Field == field).Compression;
            if (after is null || (string?)after["name"] != (string?)compression["name"] || (string?)after["kind"] != (string?)compression["kind"]
                || !JsonNode.DeepEquals(after["scalarQuantizationParameters"], compression["scalarQuantizationParameters"]))
                throw new RestViolation($"the compression of existing vector field '{field}' cannot be removed or changed");
        }
    }

    private static IEnumerable<(string Field, JsonObject Compression)> UsedCompressions(JsonObject definition)
    {
        var vectorSearch = definition["vectorSearch"] as JsonObject;
        foreach (var field in ((JsonArray)definition["fields"]!).OfType<JsonObject>())
        {
            if (CompressionOf(vectorSearch, (string?)field["vectorSearchProfile"]) is { } compression) yield return ((string)field["name"]!, compression);
        }
    }

    private static JsonObject? CompressionOf(JsonObject? vectorSearch, string? profileName)
    {
        var profile = (vectorSearch?["profiles"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(p => (string?)p["name"] == profileName);
        var name = (string?)profile?["compression"];
        return name is null ? null : (vectorSearch!["compressions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["name"] == name);
    }

    /// <summary>
    /// vectorSearch: algorithms (hnsw, exhaustiveKnn) and profiles; 2024-07-01 adds compressions (scalarQuantization with
    /// scalarQuantizationParameters.quantizedDataType int8, or binaryQuantization; rerankWithOriginalVectors;
    /// defaultOversampling, at least 1 and "only when rerankWithOriginalVectors is true" per the REST reference) and
    /// profiles[].compression. Vectorizers exist in both versions' later forms but are not modelled by this fake (refused).
    /// Returns the profiles by name, with whether each compresses.
    /// </summary>
    private static Dictionary<string, bool> ValidateVectorSearch(JsonNode? node, bool is2024)
    {
        var profiles = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (node is null) return profiles;
        var vectorSearch = node as JsonObject ?? throw new RestViolation("vectorSearch is not an object");
        if (is2024) Allowed(vectorSearch, ["algorithms", "profiles", "compressions"], "vectorSearch (this fake does not model vectorizers)");
        else Allowed(vectorSearch, ["algorithms", "profiles"], "vectorSearch (2023-11-01 has no compressions or vectorizers)");
        var algorithms = new HashSet<string>(StringComparer.Ordinal);
        foreach (var algorithm in (vectorSearch["algorithms"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var kind = (string?)algorithm["kind"];
            var name = (string?)algorithm["name"] ?? throw new RestViolation("an algorithm has no name");
            switch (kind)
            {
                case "hnsw":
                    Allowed(algorithm, ["name", "kind", "hnswParameters"], "hnsw algorithm");
                    if (algorithm["hnswParameters"] is JsonObject p)
                    {
                        Allowed(p, ["m", "efConstruction", "efSearch", "metric"], "hnswParameters");
                        Range(p, "m", 4, 10);
                        Range(p, "efConstruction", 100, 1000);
                        Range(p, "efSearch", 100, 1000);
                        Metric(p);
                    }

                    break;
                case "exhaustiveKnn":
                    Allowed(algorithm, ["name", "kind", "exhaustiveKnnParameters"], "exhaustiveKnn algorithm");
                    if (algorithm["exhaustiveKnnParameters"] is JsonObject e)
                    {
                        Allowed(e, ["metric"], "exhaustiveKnnParameters");
                        Metric(e);
                    }

                    break;
                default:
                    throw new RestViolation($"unknown algorithm kind '{kind}'");
            }

            if (!algorithms.Add(name)) throw new RestViolation($"the algorithm name '{name}' is used twice");
        }

        var compressions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var compression in (vectorSearch["compressions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var name = (string?)compression["name"] ?? throw new RestViolation("a compression has no name");
            var kind = (string?)compression["kind"];
            switch (kind)
            {
                case "scalarQuantization":
                    Allowed(compression, ["name", "kind", "rerankWithOriginalVectors", "defaultOversampling", "scalarQuantizationParameters"], "scalarQuantization compression");
                    if (compression["scalarQuantizationParameters"] is { } sq)
                    {
                        var parameters = sq as JsonObject ?? throw new RestViolation("scalarQuantizationParameters is not an object");
                        Allowed(parameters, ["quantizedDataType"], "scalarQuantizationParameters");
                        if (parameters["quantizedDataType"] is { } type && (string?)type != "int8")
                            throw new RestViolation($"quantizedDataType must be 'int8', not '{type}'");
                    }

                    break;
                case "binaryQuantization":
                    Allowed(compression, ["name", "kind", "rerankWithOriginalVectors", "defaultOversampling"], "binaryQuantization compression");
                    break;
                default:
                    throw new RestViolation($"unknown compression kind '{kind}'");
            }

            if (compression["defaultOversampling"] is { } oversampling)
            {
                if (oversampling.GetValueKind() != JsonValueKind.Number || (double)oversampling < 1)
                    throw new RestViolation($"compression '{name}': defaultOversampling must be a number of at least 1, not {oversampling.ToJsonString()}");
                if ((bool?)compression["rerankWithOriginalVectors"] != true)
                    throw new RestViolation($"compression '{name}': defaultOversampling can only be set when rerankWithOriginalVectors is true");
            }

            if (!compressions.Add(name)) throw new RestViolation($"the compression name '{name}' is used twice");
        }

        foreach (var profile in (vectorSearch["profiles"] as JsonArray ?? []).OfType<JsonObject>())
        {
            Allowed(profile, is2024 ? ["name", "algorithm", "compression"] : ["name", "algorithm"], is2024 ? "vector search profile" : "vector search profile (2023-11-01 has no compression)");
            var algorithm = (string?)profile["algorithm"];
            if (algorithm is null || !algorithms.Contains(algorithm)) throw new RestViolation($"profile '{profile["name"]}' names the unknown algorithm '{algorithm}'");
            var compression = (string?)profile["compression"];
            if (compression is not null && !compressions.Contains(compression)) throw new RestViolation($"profile '{profile["name"]}' names the unknown compression '{compression}'");
            profiles[(string?)profile["name"] ?? throw new RestViolation("a profile has no name")] = compression is not null;
        }

        return profiles;

        static void Range(JsonObject o, string property, int min, int max)
        {
            if (o[property] is { } v && ((int)v < min || (int)v > max)) throw new RestViolation($"{property} must be {min}-{max}, not {v}");
        }

        static void Metric(JsonObject o)
        {
            if (o["metric"] is { } m && (string?)m is not ("cosine" or "euclidean" or "dotProduct")) throw new RestViolation($"unknown metric '{m}'");
        }
    }

    private HttpResponseMessage IndexDocuments(string name, byte[] body)
    {
        var index = Index(name);
        var batch = JsonNode.Parse(body) as JsonObject ?? throw new RestViolation("the body is not a JSON object");
        Allowed(batch, ["value"], "index batch");
        var actions = batch["value"] as JsonArray ?? throw new RestViolation("the batch has no value array");
        if (actions.Count == 0) throw new RestViolation("the batch is empty");
        if (actions.Count > MaxBatchDocuments) throw new RestViolation($"the batch has {actions.Count} documents; the limit is {MaxBatchDocuments}", HttpStatusCode.RequestEntityTooLarge);

        var fields = index.Fields;
        var keyField = fields.Values.Single(f => (bool?)f["key"] == true);
        var keyName = (string)keyField["name"]!;
        foreach (var action in actions.OfType<JsonObject>())
        {
            var kind = (string?)action["@search.action"] ?? "upload";
            if (kind is not ("upload" or "merge" or "mergeOrUpload" or "delete")) throw new RestViolation($"unknown @search.action '{kind}'");
            var key = (string?)action[keyName] ?? throw new RestViolation($"a document has no key field '{keyName}'");
            if (!KeyPattern().IsMatch(key)) throw new RestViolation($"the document key '{key}' is invalid: keys can only contain letters, digits, underscore (_), dash (-), or equal sign (=)");
            foreach (var (property, value) in action)
            {
                if (property == "@search.action") continue;
                if (!fields.TryGetValue(property, out var field)) throw new RestViolation($"the property '{property}' does not exist on type 'search.documentFields'");
                CheckValue(property, (string)field["type"]!, (int?)field["dimensions"], value);
            }
        }

        var results = new JsonArray();
        var anyFailed = false;
        lock (_gate)
        {
            foreach (var action in actions.OfType<JsonObject>())
            {
                var kind = (string?)action["@search.action"] ?? "upload";
                var key = (string)action[keyName]!;
                if (_documentFaults.TryGetValue(key, out var fault) && fault.Times > 0)
                {
                    _documentFaults[key] = fault with { Times = fault.Times - 1 };
                    results.Add(Result(key, false, fault.Message, fault.Status));
                    anyFailed = true;
                    continue;
                }

                var document = (JsonObject)action.DeepClone();
                document.Remove("@search.action");
                var exists = index.Documents.TryGetValue(key, out var current);
                switch (kind)
                {
                    case "upload":
                        index.Documents[key] = document;
                        results.Add(Result(key, true, null, exists ? 200 : 201));
                        break;
                    case "merge" when !exists:
                        results.Add(Result(key, false, "Document not found.", 404));
                        anyFailed = true;
                        break;
                    case "merge" or "mergeOrUpload":
                        if (exists)
                        {
                            foreach (var (property, value) in document) current![property] = value?.DeepClone();
                        }
                        else
                        {
                            index.Documents[key] = document;
                        }

                        results.Add(Result(key, true, null, exists ? 200 : 201));
                        break;
                    case "delete":
                        index.Documents.Remove(key);
                        results.Add(Result(key, true, null, 200));
                        break;
                }
            }
        }

        return Json(anyFailed ? (HttpStatusCode)207 : HttpStatusCode.OK, new JsonObject { ["value"] = results });

        static JsonObject Result(string key, bool status, string? error, int code) =>
            new() { ["key"] = key, ["status"] = status, ["errorMessage"] = error, ["statusCode"] = code };
    }

    private static void CheckValue(string property, string type, int? dimensions, JsonNode? value)
    {
        if (value is null) return;
        switch (type)
        {
            case "Collection(Edm.Single)":
                var vector = value as JsonArray ?? throw new RestViolation($"'{property}' must be an array of numbers");
                if (vector.Count != dimensions) throw new RestViolation($"the vector field '{property}' has {dimensions} dimensions; the document gives {vector.Count}");
                break;
            case "Edm.String":
                if (value.GetValueKind() != JsonValueKind.String) throw new RestViolation($"'{property}' must be a string");
                break;
            case "Edm.Int32" or "Edm.Int64":
                if (value.GetValueKind() != JsonValueKind.Number) throw new RestViolation($"'{property}' must be a number");
                break;
            case "Edm.DateTimeOffset":
                if (value.GetValueKind() != JsonValueKind.String || !DateTimeOffset.TryParse((string)value!, CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                    throw new RestViolation($"'{property}' must be an ISO 8601 date-time with an offset");
                break;
        }
    }

    private HttpResponseMessage Search(string name, byte[] body, string version)
    {
        var index = Index(name);
        var request = JsonNode.Parse(body) as JsonObject ?? throw new RestViolation("the body is not a JSON object");
        Allowed(request, SearchProperties, "search request");
        var fields = index.Fields;
        var top = (int?)request["top"] ?? 50;
        var skip = (int?)request["skip"] ?? 0;
        if (top < 0 || skip < 0) throw new RestViolation("top and skip must not be negative");
        // REST 2023-11-01, Documents - Search Post, "skip": "This value cannot be greater than 100,000. If you need to
        // scan documents in sequence, but cannot use skip due to this limitation, consider using orderby on a totally-
        // ordered key and filter with a range query instead."
        if (skip > MaxSkip) throw new RestViolation($"skip is {skip}; it cannot be greater than {MaxSkip:N0}");
        if (request["search"] is { } search && (string?)search is not (null or "*")) throw new RestViolation("this fake answers vector and filter queries only");
        var select = Select(fields, (string?)request["select"]);
        var filter = (string?)request["filter"] is { } f ? ParseFilter(f, fields) : null;
        var orderBy = (string?)request["orderby"] is { } o ? ParseOrderBy(o, fields) : null;

        string? vectorField = null;
        float[]? vector = null;
        JsonObject? compression = null;
        double? oversampling = null;
        var exhaustive = false;
        var k = top;
        if (request["vectorQueries"] is JsonArray queries)
        {
            if (queries.Count != 1) throw new RestViolation("this fake answers one vector query");
            var query = queries[0] as JsonObject ?? throw new RestViolation("a vector query is not an object");
            if (version == ApiVersion2024) Allowed(query, ["kind", "k", "fields", "exhaustive", "vector", "oversampling", "weight"], "vector query (2024-07-01)");
            else Allowed(query, ["kind", "k", "fields", "exhaustive", "vector"], "vector query (2023-11-01)");
            if ((string?)query["kind"] != "vector") throw new RestViolation($"vector query kind must be 'vector' (2023-11-01), not '{query["kind"]}'");
            vectorField = (string?)query["fields"] ?? throw new RestViolation("a vector query has no fields");
            if (!fields.TryGetValue(vectorField, out var vf) || (string?)vf["type"] != "Collection(Edm.Single)")
                throw new RestViolation($"'{vectorField}' is not a vector field");
            vector = (query["vector"] as JsonArray ?? throw new RestViolation("a vector query has no vector")).Select(v => (float)v!).ToArray();
            if (vector.Length != (int?)vf["dimensions"]) throw new RestViolation($"the query vector has {vector.Length} dimensions; '{vectorField}' has {vf["dimensions"]}");
            k = (int?)query["k"] ?? throw new RestViolation("a vector query has no k");
            if (k < 1) throw new RestViolation("k must be at least 1");
            compression = CompressionOf(index.Definition["vectorSearch"] as JsonObject, (string?)vf["vectorSearchProfile"]);
            exhaustive = (bool?)query["exhaustive"] == true;
            if (query["oversampling"] is { } os)
            {
                // REST 2024-07-01, VectorQuery.oversampling: "only permitted when a compression method is used on the
                // underlying vector field", at least 1, and only where rerankWithOriginalVectors is true.
                if (compression is null || (bool?)compression["rerankWithOriginalVectors"] != true)
                    throw new RestViolation("oversampling needs a compressed vector field with rerankWithOriginalVectors true");
                oversampling = (double)os;
                if (oversampling < 1) throw new RestViolation("oversampling must be at least 1");
            }
            if (request["vectorFilterMode"] is { } mode && (string?)mode is not ("preFilter" or "postFilter")) throw new RestViolation($"unknown vectorFilterMode '{mode}'");
        }
        else if (request["vectorFilterMode"] is not null)
        {
            throw new RestViolation("vectorFilterMode without vectorQueries");
        }

        List<(JsonObject Document, double Score)> matches;
        lock (_gate)
        {
            var candidates = index.Documents.Values.Where(d => filter is null || filter.Evaluate(c => Matches(d, c))).Select(d => (JsonObject)d.DeepClone()).ToList();
            if (vector is not null && compression is not null && !exhaustive)
            {
                matches = QuantizedSearch(index, vectorField!, vector, k, compression, oversampling, candidates);
            }
            else if (vector is not null)
            {
                matches = candidates
                    .Where(d => d[vectorField!] is JsonArray)
                    .Select(d => (Document: d, Score: Score(vector, VectorOf(d, vectorField!))))
                    .OrderByDescending(m => m.Score)
                    .ThenBy(m => (string?)m.Document[index.KeyName], StringComparer.Ordinal)
                    .Take(k)
                    .ToList();
            }
            else
            {
                // search=* scores every document alike, and the order of equal scores is not documented: a scrambled
                // (but repeatable) order here, so that a client relying on some implicit order fails its tests.
                matches = candidates.OrderBy(d => Scramble((string?)d[index.KeyName])).Select(d => (d, 1.0)).ToList();
            }
        }

        if (orderBy is not null) matches = Order(matches, orderBy);

        // Server-side paging: at most 1,000 results a response; a top beyond that gets @odata.nextLink and
        // @search.nextPageParameters, where and what to send for the rest (the same request with skip and top moved on).
        var window = matches.Skip(skip).Take(top).ToList();
        var value = new JsonArray();
        foreach (var (document, score) in window.Take(MaxPageSize))
        {
            var result = new JsonObject { ["@search.score"] = score };
            foreach (var field in select) result[field] = document[field]?.DeepClone();
            value.Add(result);
        }

        var answer = new JsonObject();
        // "count": true asks for the number of matching documents in @odata.count (whatever top and skip say).
        if (request["count"] is { } count)
        {
            if (count.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)) throw new RestViolation("count must be true or false");
            if ((bool)count) answer["@odata.count"] = matches.Count;
        }

        if (window.Count > MaxPageSize)
        {
            var next = (JsonObject)request.DeepClone();
            next["skip"] = skip + MaxPageSize;
            next["top"] = top - MaxPageSize;
            answer["@odata.nextLink"] = new Uri(Endpoint, $"/indexes('{name}')/docs/search.post.search?api-version={version}").ToString();
            answer["@search.nextPageParameters"] = next;
        }

        answer["value"] = value;
        return Json(HttpStatusCode.OK, answer);
    }

    /// <summary>
    /// A $orderby as REST 2023-11-01 documents it: at most 32 comma-separated clauses, each a sortable field or
    /// <c>search.score()</c>, optionally followed by <c>asc</c> (the default) or <c>desc</c>.
    /// </summary>
    private static List<(string? Field, bool Descending)> ParseOrderBy(string text, IReadOnlyDictionary<string, JsonObject> fields)
    {
        var clauses = new List<(string? Field, bool Descending)>();
        foreach (var part in text.Split(','))
        {
            var m = OrderByClause().Match(part.Trim());
            if (!m.Success) throw new RestViolation($"Invalid expression: '{part.Trim()}' is not a field name or search.score(), optionally followed by asc or desc.");
            var name = m.Groups["f"].Value;
            var descending = m.Groups["d"].Value == "desc";
            if (name == "search.score()")
            {
                clauses.Add((null, descending));
                continue;
            }

            if (!fields.TryGetValue(name, out var field)) throw new RestViolation($"Invalid expression: Could not find a property named '{name}' on type 'search.document'.");
            if ((bool?)field["sortable"] != true) throw new RestViolation($"Invalid expression: The field '{name}' is not sortable.");
            clauses.Add((name, descending));
        }

        if (clauses.Count > MaxOrderByClauses) throw new RestViolation($"$orderby has {clauses.Count} clauses; at most {MaxOrderByClauses} are allowed.");
        return clauses;
    }

    /// <summary>Sorts by the clauses in turn; ties left in the order they came (by score, as the service breaks them).</summary>
    private static List<(JsonObject Document, double Score)> Order(List<(JsonObject Document, double Score)> matches, List<(string? Field, bool Descending)> orderBy)
    {
        var sorted = matches.Select((m, i) => (Match: m, Position: i)).ToList();
        sorted.Sort((x, y) =>
        {
            foreach (var (field, descending) in orderBy)
            {
                var c = field is null ? x.Match.Score.CompareTo(y.Match.Score) : CompareValues(x.Match.Document[field], y.Match.Document[field]);
                if (c != 0) return descending ? -c : c;
            }

            return x.Position.CompareTo(y.Position);
        });
        return sorted.ConvertAll(s => s.Match);
    }

    /// <summary>Two stored values of one sortable field (null first); strings by ordinal.</summary>
    private static int CompareValues(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null) return a is null ? b is null ? 0 : -1 : 1;
        return a.GetValueKind() switch
        {
            JsonValueKind.String => string.CompareOrdinal((string?)a, (string?)b),
            JsonValueKind.Number => ((double)a).CompareTo((double)b),
            _ => ((bool)a).CompareTo((bool)b),
        };
    }

    /// <summary>A repeatable position for a key that is not its sort order (FNV-1a of its characters).</summary>
    private static uint Scramble(string? key)
    {
        var hash = 2166136261u;
        foreach (var c in key ?? "") hash = (hash ^ c) * 16777619u;
        return hash;
    }

    /// <summary>The documented score for cosine: 1 / (1 + (1 - cosine)).</summary>
    private static double Score(float[] query, float[] vector) => 1.0 / (2.0 - Cosine(query, vector));

    private static float[] VectorOf(JsonObject document, string field) => ((JsonArray)document[field]!).Select(v => (float)v!).ToArray();

    /// <summary>
    /// A search on a compressed field as the documentation describes it: candidates ranked by their compressed vectors;
    /// with rerankWithOriginalVectors, k x oversampling (the query's, else the compression's defaultOversampling, else 1)
    /// of them re-scored with the full-precision vectors, the best k returned with those scores; without, the best k by
    /// the compressed scores. The candidate ranking is exact over the int8 copies (no HNSW graph here).
    /// </summary>
    private static List<(JsonObject Document, double Score)> QuantizedSearch(
        FakeIndex index, string field, float[] query, int k, JsonObject compression, double? oversampling, List<JsonObject> candidates)
    {
        var rerank = (bool?)compression["rerankWithOriginalVectors"] == true;
        var factor = rerank ? oversampling ?? (double?)compression["defaultOversampling"] ?? 1.0 : 1.0;
        var take = (int)Math.Ceiling(k * factor);
        var approximate = QuantizedScores(index, field, query, candidates)
            .OrderByDescending(m => m.Score)
            .ThenBy(m => (string?)m.Document[index.KeyName], StringComparer.Ordinal)
            .Take(take)
            .ToList();
        if (!rerank) return approximate.Take(k).ToList();
        return approximate
            .Select(m => (m.Document, Score: Score(query, VectorOf(m.Document, field))))
            .OrderByDescending(m => m.Score)
            .ThenBy(m => (string?)m.Document[index.KeyName], StringComparer.Ordinal)
            .Take(k)
            .ToList();
    }

    /// <summary>
    /// Scores against int8 scalar-quantized copies: each dimension's range over the index's vectors (minimum to maximum)
    /// split into 255 steps, every component rounded to its step and mapped back. The documentation describes scalar
    /// quantization as a per-dimension min/max mapping to int8; the service's exact parameters (sample, clipping) are not
    /// published, so this is a model of it, not the service's arithmetic.
    /// </summary>
    internal static IEnumerable<(JsonObject Document, double Score)> QuantizedScores(FakeIndex index, string field, float[] query, IReadOnlyList<JsonObject> candidates)
    {
        var all = index.Documents.Values.Where(d => d[field] is JsonArray).Select(d => VectorOf(d, field)).ToList();
        var min = new float[query.Length];
        var max = new float[query.Length];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        foreach (var v in all)
        {
            for (var i = 0; i < v.Length; i++)
            {
                min[i] = MathF.Min(min[i], v[i]);
                max[i] = MathF.Max(max[i], v[i]);
            }
        }

        foreach (var document in candidates.Where(d => d[field] is JsonArray))
        {
            var v = VectorOf(document, field);
            for (var i = 0; i < v.Length; i++)
            {
                var step = (max[i] - min[i]) / 255f;
                v[i] = step == 0 ? min[i] : min[i] + MathF.Round((v[i] - min[i]) / step) * step;
            }

            yield return (document, Score(query, v));
        }
    }

    private HttpResponseMessage Lookup(string name, string key, string? selectText)
    {
        var index = Index(name);
        var select = Select(index.Fields, selectText);
        lock (_gate)
        {
            if (!index.Documents.TryGetValue(key, out var document)) return Error(HttpStatusCode.NotFound, "Document not found.");
            var result = new JsonObject();
            foreach (var field in select) result[field] = document[field]?.DeepClone();
            return Json(HttpStatusCode.OK, result);
        }
    }

    private HttpResponseMessage Count(string name)
    {
        var index = Index(name);
        int count;
        lock (_gate) count = index.Documents.Count;
        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("\uFEFF" + count.ToString(CultureInfo.InvariantCulture), new UTF8Encoding(false), "text/plain"),
        };
    }

    private FakeIndex Index(string name) =>
        _indexes.TryGetValue(name, out var index) ? index : throw new NotFound($"The index '{name}' for service 'fake-search' was not found.");

    private static List<string> Select(IReadOnlyDictionary<string, JsonObject> fields, string? select)
    {
        if (string.IsNullOrEmpty(select) || select == "*") return fields.Values.Where(f => (bool?)f["retrievable"] != false).Select(f => (string)f["name"]!).ToList();
        var names = select.Split(',').Select(s => s.Trim()).ToList();
        foreach (var name in names)
        {
            if (!fields.TryGetValue(name, out var field)) throw new RestViolation($"Invalid expression: Could not find a property named '{name}' on type 'search.document'.");
            if ((bool?)field["retrievable"] == false) throw new RestViolation($"the field '{name}' is not retrievable");
        }

        return names;
    }

    private static FilterExpression ParseFilter(string text, IReadOnlyDictionary<string, JsonObject> fields)
    {
        FilterExpression expression;
        try
        {
            expression = FakeODataFilter.ParseExpression(text);
        }
        catch (FormatException ex)
        {
            throw new RestViolation(ex.Message);
        }

        foreach (var clause in expression.Clauses)
        {
            if (!fields.TryGetValue(clause.Field, out var field)) throw new RestViolation($"Invalid expression: Could not find a property named '{clause.Field}' on type 'search.document'.");
            if ((bool?)field["filterable"] != true) throw new RestViolation($"Invalid expression: The field '{clause.Field}' is not filterable.");
            var type = (string)field["type"]!;
            var ok = clause.Value switch
            {
                null => true,
                string => type == "Edm.String",
                DateTimeOffset => type == "Edm.DateTimeOffset",
                double => type is "Edm.Int32" or "Edm.Int64" or "Edm.Double",
                bool => type == "Edm.Boolean",
                _ => false,
            };
            if (!ok) throw new RestViolation($"Invalid expression: a literal of the wrong type is compared with '{clause.Field}' ({type}).");
        }

        return expression;
    }

    private static bool Matches(JsonObject document, FilterClause clause)
    {
        var stored = document[clause.Field];
        int? comparison = (clause.Value, stored) switch
        {
            (null, null) => 0,
            (null, _) or (_, null) => null,
            (string s, _) => string.CompareOrdinal((string?)stored, s),
            (DateTimeOffset t, _) => DateTimeOffset.Parse((string)stored!, CultureInfo.InvariantCulture).CompareTo(t),
            (double d, _) => ((double)stored!).CompareTo(d),
            (bool b, _) => ((bool)stored!).CompareTo(b),
            _ => null,
        };
        return clause.Operator switch
        {
            "eq" => comparison == 0,
            "ne" => comparison != 0,
            "gt" => comparison > 0,
            "ge" => comparison >= 0,
            "lt" => comparison < 0,
            "le" => comparison <= 0,
            _ => false,
        };
    }

    /// <summary>Exact cosine similarity in double precision (0 for a zero vector).</summary>
    internal static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    private static void Allowed(JsonObject o, IReadOnlyCollection<string> allowed, string what)
    {
        foreach (var (property, _) in o)
        {
            if (!allowed.Contains(property)) throw new RestViolation($"the {what} has the unknown property '{property}'");
        }
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            result[name] = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
        }

        return result;
    }

    private HttpResponseMessage Violation(HttpStatusCode status, string message, string code = "")
    {
        if (status != HttpStatusCode.NotFound || !message.Contains("was not found", StringComparison.Ordinal)) _violations.Enqueue(message);
        return Error(status, message, code);
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string message, string code = "") =>
        Json(status, new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } });

    private static HttpResponseMessage Json(HttpStatusCode status, JsonNode body)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        response.Content.Headers.ContentType.Parameters.Add(new NameValueHeaderValue("odata.metadata", "minimal"));
        response.Headers.TryAddWithoutValidation("request-id", Guid.NewGuid().ToString());
        return response;
    }

    private sealed record Fault(string Operation, HttpStatusCode Status, string? RetryAfter);

    private class RestViolation(string message, HttpStatusCode status = HttpStatusCode.BadRequest) : Exception(message)
    {
        public HttpStatusCode Status { get; } = status;
    }

    private sealed class NotFound(string message) : RestViolation(message, HttpStatusCode.NotFound);

    internal sealed class FakeIndex(JsonObject definition)
    {
        public JsonObject Definition { get; set; } = definition;

        public Dictionary<string, JsonObject> Documents { get; } = new(StringComparer.Ordinal);

        public IReadOnlyDictionary<string, JsonObject> Fields =>
            ((JsonArray)Definition["fields"]!).OfType<JsonObject>().ToDictionary(f => (string)f["name"]!, StringComparer.Ordinal);

        public string KeyName => (string)Fields.Values.Single(f => (bool?)f["key"] == true)["name"]!;
    }
}
