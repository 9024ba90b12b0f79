using VisualSearch.Functions.HostTests.Infrastructure;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// The published app starts as the host starts it, answers WorkerInitRequest, and indexes exactly these functions
/// (worker indexing): a renamed route, a changed method or authorization level, or a lost function fails here.
/// Person-facing functions are Anonymous to the host (no function key in a person's app; App Service authentication
/// and SignedInCallerMiddleware check the caller); only the Event Grid webhook is key-protected (machine to machine).
/// </summary>
public sealed class MetadataTests(WorkerFixture fixture) : IClassFixture<WorkerFixture>
{
    // name, trigger, route (HTTP) or path (blob), methods, authorization level, needs a signed-in person
    public static readonly TheoryData<string, string, string, string, string?, bool> Expected = new()
    {
        { "SearchByImage", "httpTrigger", "search", "POST", "Anonymous", true },
        { "SearchById", "httpTrigger", "search", "GET", "Anonymous", true },
        { "GetItem", "httpTrigger", "items/{*id}", "GET", "Anonymous", true },
        { "DeleteItem", "httpTrigger", "items/{*id}", "DELETE", "Anonymous", true },
        { "Health", "httpTrigger", "health", "GET", "Anonymous", false },
        { "HealthDetails", "httpTrigger", "health/details", "GET", "Anonymous", true },
        { "CreateUpload", "httpTrigger", "uploads", "POST", "Anonymous", true },
        { "GetUpload", "httpTrigger", "uploads/{*id}", "GET", "Anonymous", true },
        { "Page", "httpTrigger", "app/{*path}", "GET", "Anonymous", false },
        { "GetImage", "httpTrigger", "images/{*id}", "GET", "Anonymous", true },
        { "GetThumbnail", "httpTrigger", "thumbnails/{*id}", "GET", "Anonymous", true },
        { "BlobEvents", "httpTrigger", "events/blobs", "POST,OPTIONS", "Function", false },
        { "GetDuplicates", "httpTrigger", "duplicates", "GET", "Anonymous", true },
        { "DuplicateDecisions", "httpTrigger", "duplicates/decisions", "POST", "Anonymous", true },
        { "GetAlbums", "httpTrigger", "albums", "GET", "Anonymous", true },
        { "SetAlbumMembers", "httpTrigger", "albums/{name}/members", "PUT", "Anonymous", true },
        { "IngestImage", "blobTrigger", "images/{name}", "", null, false },
    };

    [Fact]
    public void The_worker_answers_WorkerInitRequest_with_its_capabilities()
    {
        var init = fixture.Worker.Init;
        Assert.StartsWith("2.", init.WorkerVersion, StringComparison.Ordinal);
        Assert.Equal("True", init.Capabilities["HandlesWorkerTerminateMessage"]);
        Assert.True(fixture.Worker.HttpUri.IsLoopback, $"HttpUri {fixture.Worker.HttpUri} is not a loopback address.");
    }

    [Fact]
    public void The_metadata_lists_exactly_the_expected_functions()
    {
        var expected = Expected.Select(row => (string)row[0]).Order(StringComparer.Ordinal);
        Assert.Equal(expected, fixture.Worker.Functions.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void Each_function_has_its_trigger_route_methods_and_authorization_level(string name, string trigger, string route, string methods, string? authLevel, bool person)
    {
        var function = fixture.Worker.Function(name);
        Assert.Equal(person, FunctionAccess.NeedsSignedInCaller(name));
        Assert.Equal(trigger, function.Trigger.Type);
        Assert.Equal("In", function.Trigger.Direction);
        if (function.IsHttp)
        {
            Assert.Equal(route, function.Trigger.Get("route"));
            Assert.Equal("api/" + route, function.RouteTemplate);
            Assert.Equal(methods, string.Join(",", function.Trigger.Methods));
            Assert.Equal(authLevel, function.Trigger.Get("authLevel"));
            // The HTTP result goes back through the ASP.NET Core integration as the function's return value.
            Assert.Contains(function.Bindings, b => b.Name == "$return" && b.Type == "http" && b.Direction == "Out");
        }
        else
        {
            Assert.Equal(route, function.Trigger.Get("path"));
            Assert.Equal("EventGrid", function.Trigger.Get("source"));
            Assert.Equal("ImagesStorage", function.Trigger.Get("connection"));
            // The BlobClient parameter is an SDK-type binding: the host sends a reference, the worker reads the blob.
            Assert.Equal("True", function.Trigger.Json.GetProperty("properties").GetProperty("supportsDeferredBinding").GetString());
        }
    }
}
