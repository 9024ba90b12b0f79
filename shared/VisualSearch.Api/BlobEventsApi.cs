using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using VisualSearch.Ingestion;

namespace VisualSearch.Api;

/// <summary>
/// An Event Grid webhook (Event Grid schema or CloudEvents 1.0): answers the subscription validation
/// handshake, and turns Microsoft.Storage.BlobCreated / BlobDeleted into handler calls.
/// </summary>
public static partial class BlobEventsApi
{
    private const int MaxBody = 1024 * 1024;

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

        var (body, readProblem) = await ApiHttp.ReadBodyAsync(request, MaxBody, cancellationToken).ConfigureAwait(false);
        if (readProblem is not null) return readProblem;
        if (body is null) return ApiHttp.Problem(StatusCodes.Status413PayloadTooLarge, "Too large", "An event batch is at most 1 MB.");

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException ex)
        {
            return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid JSON", ex.Message);
        }

        var events = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().ToList() : [root];
        foreach (var e in events)
        {
            if (e.ValueKind != JsonValueKind.Object) return ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid event", "Each event is a JSON object.");
            var type = GetString(e, "eventType") ?? GetString(e, "type");
            if (type == "Microsoft.EventGrid.SubscriptionValidationEvent")
            {
                var code = e.TryGetProperty("data", out var d) ? GetString(d, "validationCode") : null;
                return code is null
                    ? ApiHttp.Problem(StatusCodes.Status400BadRequest, "Invalid validation event", "data.validationCode is missing.")
                    : Results.Ok(new { validationResponse = code });
            }

            var subject = GetString(e, "subject");
            if (!TryParseSubject(subject, out var container, out var blobName))
            {
                LogIgnored(logger, type ?? "(none)", subject ?? "(none)");
                continue;
            }

            switch (type)
            {
                case "Microsoft.Storage.BlobCreated":
                    await handler.BlobCreatedAsync(container, blobName, cancellationToken).ConfigureAwait(false);
                    break;
                case "Microsoft.Storage.BlobDeleted":
                    await handler.BlobDeletedAsync(container, blobName, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    LogIgnored(logger, type ?? "(none)", subject!);
                    break;
            }
        }

        return Results.Ok();
    }

    /// <summary>Parses <c>/blobServices/default/containers/{container}/blobs/{name}</c>.</summary>
    public static bool TryParseSubject(string? subject, out string container, out string blobName)
    {
        container = blobName = "";
        const string prefix = "/blobServices/default/containers/";
        if (subject is null || !subject.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var rest = subject[prefix.Length..];
        var marker = rest.IndexOf("/blobs/", StringComparison.Ordinal);
        if (marker <= 0) return false;
        container = rest[..marker];
        blobName = rest[(marker + "/blobs/".Length)..];
        return blobName.Length > 0;
    }

    private static string? GetString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    [LoggerMessage(200, LogLevel.Information, "Ignored event {EventType} for {Subject}")]
    private static partial void LogIgnored(ILogger logger, string eventType, string subject);
}
