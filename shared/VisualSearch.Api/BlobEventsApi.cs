using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VisualSearch.Ingestion;

namespace VisualSearch.Api;

/// <summary>
/// An Event Grid webhook (Event Grid schema or CloudEvents 1.0): answers the subscription validation
/// handshake, and turns Microsoft.Storage.BlobCreated / BlobDeleted into handler calls. Only JSON
/// (application/json, application/cloudevents+json, application/cloudevents-batch+json) is read, never a post
/// from another site's page (Origin), and the whole batch is checked against the schema, with every blob subject
/// a valid container name and item id, before any event is handled: a bad batch is 400 and touches nothing.
/// </summary>
public static partial class BlobEventsApi
{
    private const int MaxBody = 1024 * 1024;
    private const string SubjectPrefix = "/blobServices/default/containers/";
    private const string BlobCreated = "Microsoft.Storage.BlobCreated";
    private const string BlobDeleted = "Microsoft.Storage.BlobDeleted";
    private const string ValidationEvent = "Microsoft.EventGrid.SubscriptionValidationEvent";

    private static readonly string[] MediaTypes = ["application/json", "application/cloudevents+json", "application/cloudevents-batch+json"];

    public static async Task<IResult> HandleAsync(HttpRequest request, IBlobEventHandler handler, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(handler);

        // CloudEvents abuse-protection handshake.
        if (HttpMethods.IsOptions(request.Method))
        {
            var origin = request.Headers["WebHook-Request-Origin"].ToString();
            if (!string.IsNullOrEmpty(origin)) request.HttpContext.Response.Headers["WebHook-Allowed-Origin"] = origin;
            return Results.Ok();
        }

        // Event Grid posts JSON and sends no Origin; a web page can post text/plain cross-site without a preflight.
        if (RequestOrigin.IsForeign(request, out var foreign))
            return ApiHttp.Problem(StatusCodes.Status403Forbidden, "Forbidden", $"Events are not accepted from a web page ({foreign}).");
        var mediaType = (request.ContentType ?? "").Split(';')[0].Trim();
        if (!MediaTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase))
            return ApiHttp.Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", $"Events are {string.Join(", ", MediaTypes)}, not '{request.ContentType}'.");

        var (body, readProblem) = await ApiHttp.ReadBodyAsync(request, MaxBody, cancellationToken).ConfigureAwait(false);
        if (readProblem is not null) return readProblem;
        if (body is null) return ApiHttp.Problem(StatusCodes.Status413PayloadTooLarge, "Too large", "An event batch is at most 1 MB.");

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid JSON", ex.Message);
        }

        var events = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().ToList() : [root];
        if (events.Count == 0) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid event batch", "The batch holds no event.");
        var parsed = new List<BlobEvent>(events.Count);
        foreach (var e in events)
        {
            if (!TryParseEvent(e, out var blobEvent, out var error))
                return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid event", error);
            if (blobEvent.Type == ValidationEvent)
            {
                return blobEvent.ValidationCode is null
                    ? ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid validation event", "data.validationCode is missing.")
                    : Results.Ok(new { validationResponse = blobEvent.ValidationCode });
            }

            parsed.Add(blobEvent);
        }

        foreach (var e in parsed)
        {
            switch (e.Type)
            {
                case BlobCreated:
                    await handler.BlobCreatedAsync(e.Container!, e.BlobName!, cancellationToken).ConfigureAwait(false);
                    break;
                case BlobDeleted:
                    await handler.BlobDeletedAsync(e.Container!, e.BlobName!, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    LogIgnored(logger, e.Type, e.Subject ?? "(none)");
                    break;
            }
        }

        return Results.Ok();
    }

    /// <summary>Parses <c>/blobServices/default/containers/{container}/blobs/{name}</c>.</summary>
    public static bool TryParseSubject(string? subject, out string container, out string blobName)
    {
        container = blobName = "";
        if (subject is null || !subject.StartsWith(SubjectPrefix, StringComparison.Ordinal)) return false;
        var rest = subject[SubjectPrefix.Length..];
        var marker = rest.IndexOf("/blobs/", StringComparison.Ordinal);
        if (marker < 0) return false;
        container = rest[..marker];
        blobName = rest[(marker + "/blobs/".Length)..];
        return true;
    }

    private sealed record BlobEvent(string Type, string? Subject, string? Container, string? BlobName, string? ValidationCode);

    /// <summary>
    /// One event of either schema. Event Grid: id, eventType, subject, eventTime (a date), data (an object),
    /// dataVersion. CloudEvents 1.0: specversion "1.0", id, source, type, and data an object when present. A storage
    /// event's subject must name a valid container and a blob name that makes a valid item id.
    /// </summary>
    private static bool TryParseEvent(JsonElement e, out BlobEvent parsed, out string error)
    {
        parsed = null!;
        error = "";
        if (e.ValueKind != JsonValueKind.Object) { error = "Each event is a JSON object."; return false; }
        string? type;
        if (e.TryGetProperty("specversion", out var version))
        {
            if (version.ValueKind != JsonValueKind.String || version.GetString() != "1.0") { error = "A CloudEvent has specversion \"1.0\"."; return false; }
            type = GetString(e, "type");
            if (!HasText(e, "id") || !HasText(e, "source") || type is null) { error = "A CloudEvent has the strings id, source and type."; return false; }
            if (e.TryGetProperty("data", out var cloudData) && cloudData.ValueKind != JsonValueKind.Object) { error = "A CloudEvent's data is an object."; return false; }
        }
        else
        {
            type = GetString(e, "eventType");
            if (!HasText(e, "id") || type is null || GetString(e, "subject") is null || GetString(e, "dataVersion") is null)
            {
                error = "An Event Grid event has the strings id, eventType, subject, eventTime and dataVersion, and an object data.";
                return false;
            }

            if (!DateTimeOffset.TryParse(GetString(e, "eventTime"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out _))
            {
                error = "An Event Grid event's eventTime is an ISO 8601 date and time.";
                return false;
            }

            if (!e.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object) { error = "An Event Grid event's data is an object."; return false; }
        }

        var subject = GetString(e, "subject");
        if (type == ValidationEvent)
        {
            parsed = new BlobEvent(type, subject, null, null, e.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? GetString(d, "validationCode") : null);
            return true;
        }

        if (type is BlobCreated or BlobDeleted)
        {
            if (!TryParseSubject(subject, out var container, out var blobName))
            {
                error = $"A {type} subject is {SubjectPrefix}{{container}}/blobs/{{name}}.";
                return false;
            }

            if (!ItemIds.IsValidBlob(container, blobName, out var idError))
            {
                error = $"The event names a blob that cannot be indexed: {idError}";
                return false;
            }

            parsed = new BlobEvent(type, subject, container, blobName, null);
            return true;
        }

        parsed = new BlobEvent(type, subject, null, null, null);
        return true;
    }

    private static bool HasText(JsonElement e, string name) => !string.IsNullOrEmpty(GetString(e, name));

    private static string? GetString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    [LoggerMessage(200, LogLevel.Information, "Ignored event {EventType} for {Subject}")]
    private static partial void LogIgnored(ILogger logger, string eventType, string subject);
}
