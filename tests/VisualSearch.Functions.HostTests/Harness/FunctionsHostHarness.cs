using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests.Harness;

/// <summary>
/// Plays the Azure Functions host's part for the real isolated worker process (functions/VisualSearch.Functions as
/// built, its Program.cs unchanged): a gRPC server for <c>FunctionRpc.EventStream</c> on loopback, the worker started
/// as the host starts it (<c>dotnet VisualSearch.Functions.dll --functions-uri ... --functions-worker-id ...</c>,
/// <c>FUNCTIONS_WORKER_RUNTIME=dotnet-isolated</c>, app settings in the environment), then the host's handshake:
/// StartStream, WorkerInitRequest (the worker answers with its capabilities, among them the <c>HttpUri</c> its
/// ASP.NET Core integration listens on), FunctionsMetadataRequest (worker indexing) and a FunctionLoadRequest for
/// every function. Invocations go over the stream; an HTTP request is routed by the functions' routes and methods
/// (host.json's routePrefix included), sent as an InvocationRequest and, at the same time, forwarded to the
/// worker's HttpUri with <c>x-ms-invocation-id</c>, as the host's HTTP proxy does (retrying a refused connection while
/// the worker's HTTP server starts); a failed invocation is answered 500. Disposing sends WorkerTerminate,
/// waits for the process to exit (killing it after a grace period) and stops the gRPC server: no process is left.
/// What only a real host does (function keys, host.json retries and timeouts, the blob extension's Event Grid
/// webhook, scaling) is not played here.
/// </summary>
public sealed class FunctionsHostHarness : IAsyncDisposable
{
    /// <summary>The Functions host version the harness announces in WorkerInitRequest (a 4.x host's).</summary>
    public const string HostVersion = "4.1044.0.0";
    public const int MaxMessageLength = int.MaxValue;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan InvocationTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    private readonly WebApplication _grpc;
    private readonly WorkerConnection _connection;
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = InvocationTimeout };
    private readonly Stopwatch _sinceStart;
    private Dictionary<string, WorkerFunction> _functions = new(StringComparer.Ordinal);
    private int _disposed;

    private FunctionsHostHarness(WebApplication grpc, WorkerConnection connection, Process process, string workerId, Stopwatch sinceStart)
    {
        _grpc = grpc;
        _connection = connection;
        _process = process;
        WorkerId = workerId;
        _sinceStart = sinceStart;
    }

    /// <summary>The worker as built with the test run's configuration (the test project references it, so it is built first).</summary>
    public static string AppDirectory { get; } = Path.Combine(Repo.Root, "functions", "VisualSearch.Functions", "bin",
        typeof(FunctionsHostHarness).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug", "net10.0");

    public string WorkerId { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>After disposal: whether the worker exited by itself after WorkerTerminate (true) or had to be killed.</summary>
    public bool ExitedByItself { get; private set; }

    /// <summary>What the worker answered to WorkerInitRequest.</summary>
    public WorkerInitResponse Init { get; private set; } = null!;

    /// <summary>The address of the worker's ASP.NET Core integration (its <c>HttpUri</c> capability).</summary>
    public Uri HttpUri { get; private set; } = null!;

    /// <summary>Every function of the worker's metadata, loaded, by name.</summary>
    public IReadOnlyDictionary<string, WorkerFunction> Functions => _functions;

    /// <summary>The RpcLog messages the worker sent so far.</summary>
    public IReadOnlyCollection<RpcLog> Logs => _connection.Logs;

    /// <summary>Times from the process start: the stream opened, WorkerInitResponse, every function loaded.</summary>
    public HandshakeTimes Times { get; private set; } = null!;

    /// <summary>Time since the worker process was started.</summary>
    public TimeSpan SinceProcessStart => _sinceStart.Elapsed;

    /// <summary>
    /// Starts the gRPC server and the worker with <paramref name="appSettings"/> (configuration keys, <c>:</c> or
    /// <c>__</c>) in its environment, and completes the handshake. Throws with the worker's output if it fails.
    /// </summary>
    public static async Task<FunctionsHostHarness> StartAsync(IReadOnlyDictionary<string, string?> appSettings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(appSettings);
        var dll = Path.Combine(AppDirectory, "VisualSearch.Functions.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"The Functions app is not built at {dll} (dotnet build functions/VisualSearch.Functions).", dll);

        var connection = new WorkerConnection();
        var port = AzuriteProcess.FreePort();
        var grpc = StartGrpcServer(connection, port);
        await grpc.StartAsync(cancellationToken).ConfigureAwait(false);

        var workerId = Guid.NewGuid().ToString();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppDirectory,
        };
        foreach (var a in new[]
                 {
                     dll,
                     "--functions-uri", $"http://127.0.0.1:{port}/",
                     "--functions-worker-id", workerId,
                     "--functions-request-id", Guid.NewGuid().ToString(),
                     "--functions-grpc-max-message-length", MaxMessageLength.ToString(CultureInfo.InvariantCulture),
                 })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        start.Environment["AzureWebJobsScriptRoot"] = AppDirectory;
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = AppDirectory;
        foreach (var (key, value) in appSettings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;

        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the worker.");
        }
        catch
        {
            await grpc.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var harness = new FunctionsHostHarness(grpc, connection, process, workerId, clock);
        process.OutputDataReceived += (_, e) => harness.Append(e.Data);
        process.ErrorDataReceived += (_, e) => harness.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await harness.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return harness;
        }
        catch
        {
            await harness.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What the worker process wrote to stdout and stderr so far.</summary>
    public string Output()
    {
        lock (_output) return _output.ToString();
    }

    public WorkerFunction Function(string name) =>
        _functions.TryGetValue(name, out var function) ? function : throw new KeyNotFoundException($"The worker has no function {name}; it has {string.Join(", ", _functions.Keys)}.");

    /// <summary>Sends an InvocationRequest and waits for its InvocationResponse.</summary>
    public async Task<InvocationResponse> InvokeAsync(string functionName, IEnumerable<ParameterBinding> inputs,
        IReadOnlyDictionary<string, TypedData>? triggerMetadata = null, string? invocationId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var function = Function(functionName);
        var id = invocationId ?? Guid.NewGuid().ToString();
        var request = new InvocationRequest
        {
            InvocationId = id,
            FunctionId = function.Id,
            TraceContext = new RpcTraceContext { TraceParent = $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01" },
        };
        request.InputData.Add(inputs);
        if (triggerMetadata is not null) foreach (var (key, value) in triggerMetadata) request.TriggerMetadata[key] = value;

        var response = _connection.ExpectInvocation(id);
        await _connection.SendAsync(new StreamingMessage { RequestId = Guid.NewGuid().ToString(), InvocationRequest = request }, cancellationToken).ConfigureAwait(false);
        return await WaitAsync(response, $"the InvocationResponse of {functionName} ({id})", InvocationTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Invokes a blob trigger the way the host does for SDK-type bindings (a BlobClient parameter): the input is a
    /// ModelBindingData reference (<c>AzureStorageBlobs</c>, JSON with the connection setting's name, the container
    /// and the blob) that the worker resolves itself, plus the trigger metadata. The container comes from the
    /// trigger's path (<c>images/{name}</c>): the host fires for no other.
    /// </summary>
    public Task<InvocationResponse> InvokeBlobTriggerAsync(string functionName, string blobName, CancellationToken cancellationToken = default)
    {
        var trigger = Function(functionName).Trigger;
        if (!trigger.Type.Equals("blobTrigger", StringComparison.OrdinalIgnoreCase)) throw new InvalidOperationException($"{functionName} is not a blob trigger.");
        var path = trigger.Get("path") ?? throw new InvalidOperationException($"{functionName}'s trigger has no path.");
        var container = path[..path.IndexOf('/', StringComparison.Ordinal)];
        var content = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string?>
        {
            ["Connection"] = trigger.Get("connection"),
            ["ContainerName"] = container,
            ["BlobName"] = blobName,
        });
        var input = new ParameterBinding
        {
            Name = trigger.Name,
            Data = new TypedData
            {
                ModelBindingData = new ModelBindingData { Version = "1.0", Source = "AzureStorageBlobs", ContentType = "application/json", Content = ByteString.CopyFrom(content) },
            },
        };
        var metadata = new Dictionary<string, TypedData>(StringComparer.Ordinal)
        {
            ["BlobTrigger"] = new() { String = $"{container}/{blobName}" },
            ["name"] = new() { String = blobName },
            ["sys"] = new() { Json = JsonSerializer.Serialize(new { MethodName = functionName, UtcNow = DateTime.UtcNow, RandGuid = Guid.NewGuid() }) },
        };
        return InvokeAsync(functionName, [input], metadata, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// An HTTP request as the host's front end handles it: the function whose route and methods match (a
    /// <c>404</c> without an invocation when none does), an InvocationRequest with the HTTP trigger's input and the
    /// route values, and the request itself forwarded to the worker's HttpUri with <c>x-ms-invocation-id</c>.
    /// </summary>
    public async Task<HttpInvocation> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri is { IsAbsoluteUri: true } absolute ? absolute : new Uri(new Uri("http://localhost/"), request.RequestUri!);
        var path = Uri.UnescapeDataString(uri.AbsolutePath); // routes match decoded segments, as in ASP.NET Core
        var method = request.Method.Method;
        WorkerFunction? function = null;
        Microsoft.AspNetCore.Routing.RouteValueDictionary values = [];
        foreach (var candidate in _functions.Values)
        {
            if (candidate.Matches(method, path, out values))
            {
                function = candidate;
                break;
            }
        }

        if (function is null) return new HttpInvocation(null, new HttpResponseMessage(HttpStatusCode.NotFound), null);

        var invocationId = Guid.NewGuid().ToString();
        var rpc = new RpcHttp { Method = method, Url = uri.ToString() };
        foreach (var (name, header) in request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>()))
            rpc.Headers[name.ToLowerInvariant()] = string.Join(",", header);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query);
        foreach (var (name, value) in query) rpc.Query[name] = value.ToString();
        var metadata = new Dictionary<string, TypedData>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (value is null) continue;
            var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            rpc.Params[name] = text;
            metadata[name] = new TypedData { String = text };
        }

        metadata["Query"] = new TypedData { Json = JsonSerializer.Serialize(rpc.Query) };
        metadata["Headers"] = new TypedData { Json = JsonSerializer.Serialize(rpc.Headers) };
        var input = new ParameterBinding { Name = function.Trigger.Name, Data = new TypedData { Http = rpc } };

        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var invocation = InvokeAsync(function.Name, [input], metadata, invocationId, cancellationToken);
        var response = await ForwardAsync(request, uri, body, invocationId, cancellationToken).ConfigureAwait(false);
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        var result = await invocation.ConfigureAwait(false);
        if (result.Result.Status == StatusResult.Types.Status.Success) return new HttpInvocation(function, response, result);

        // A failed invocation (the function threw): the host answers 500, whatever the worker wrote.
        response.Dispose();
        return new HttpInvocation(function, new HttpResponseMessage(HttpStatusCode.InternalServerError) { Content = new ByteArrayContent([]) }, result);
    }

    // The request to the worker's HttpUri with x-ms-invocation-id. Like the host's proxy, a connection the worker
    // refuses (its HTTP server may still be starting right after the handshake) is tried again a few times.
    private async Task<HttpResponseMessage> ForwardAsync(HttpRequestMessage request, Uri uri, byte[]? body, string invocationId, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var forward = new HttpRequestMessage(request.Method, new Uri(HttpUri, uri.PathAndQuery)) { Version = request.Version };
            foreach (var (name, header) in request.Headers) forward.Headers.TryAddWithoutValidation(name, header);
            forward.Headers.Add("x-ms-invocation-id", invocationId);
            if (body is not null)
            {
                forward.Content = new ByteArrayContent(body);
                foreach (var (name, header) in request.Content!.Headers) forward.Content.Headers.TryAddWithoutValidation(name, header);
            }

            try
            {
                return await _http.SendAsync(forward, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused } && attempt < 20)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>WorkerTerminate, then the process's exit (killed after a grace period), then the gRPC server: nothing is left running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        try
        {
            if (!_process.HasExited && _connection.Started.IsCompletedSuccessfully && !_connection.Closed.IsCompleted)
            {
                await _connection.SendAsync(new StreamingMessage { RequestId = Guid.NewGuid().ToString(), WorkerTerminate = new WorkerTerminate { GracePeriod = Duration.FromTimeSpan(TimeSpan.FromSeconds(5)) } },
                    CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or Grpc.Core.RpcException or OperationCanceledException)
        {
            // The stream is gone already: the process is waited for (or killed) below.
        }

        await StopProcessAsync().ConfigureAwait(false);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await _grpc.StopAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _grpc.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
        _process.Dispose();
    }

    /// <summary>Kills the worker at once (SIGKILL: no shutdown code runs).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    private static WebApplication StartGrpcServer(WorkerConnection connection, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Limits.MaxRequestBodySize = null;
        });
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = null;
            o.MaxSendMessageSize = null;
        });
        builder.Services.AddSingleton(connection);
        var app = builder.Build();
        app.MapGrpcService<FunctionRpcService>();
        return app;
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var started = await WaitAsync(_connection.Started, "StartStream", StartTimeout, cancellationToken).ConfigureAwait(false);
        if (started.WorkerId != WorkerId) throw new InvalidOperationException($"StartStream came from worker {started.WorkerId}, not {WorkerId}.");
        var opened = _sinceStart.Elapsed;

        var init = new WorkerInitRequest { HostVersion = HostVersion, WorkerDirectory = AppDirectory, FunctionAppDirectory = AppDirectory };
        await _connection.SendAsync(new StreamingMessage { RequestId = Guid.NewGuid().ToString(), WorkerInitRequest = init }, cancellationToken).ConfigureAwait(false);
        Init = await WaitAsync(_connection.Initialized, "WorkerInitResponse", StartTimeout, cancellationToken).ConfigureAwait(false);
        EnsureSuccess(Init.Result, "WorkerInitRequest");
        var initialized = _sinceStart.Elapsed;
        if (!Init.Capabilities.TryGetValue("HttpUri", out var httpUri) || !Uri.TryCreate(httpUri, UriKind.Absolute, out var parsed))
            throw new InvalidOperationException($"The worker reported no HttpUri capability: {Init.Capabilities}.\n{Output()}");
        HttpUri = parsed;

        await _connection.SendAsync(new StreamingMessage { RequestId = Guid.NewGuid().ToString(), FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = AppDirectory } }, cancellationToken).ConfigureAwait(false);
        var metadata = await WaitAsync(_connection.Metadata, "FunctionMetadataResponse", StartTimeout, cancellationToken).ConfigureAwait(false);
        EnsureSuccess(metadata.Result, "FunctionsMetadataRequest");
        var routePrefix = RoutePrefix();
        _functions = metadata.FunctionMetadataResults.Select(m => new WorkerFunction(m, routePrefix)).ToDictionary(f => f.Name, StringComparer.Ordinal);

        var loads = new List<Task<FunctionLoadResponse>>();
        foreach (var function in _functions.Values)
        {
            loads.Add(_connection.ExpectLoad(function.Id));
            await _connection.SendAsync(new StreamingMessage
            {
                RequestId = Guid.NewGuid().ToString(),
                FunctionLoadRequest = new FunctionLoadRequest { FunctionId = function.Id, Metadata = function.Metadata },
            }, cancellationToken).ConfigureAwait(false);
        }

        foreach (var load in loads) EnsureSuccess((await WaitAsync(load, "FunctionLoadResponse", StartTimeout, cancellationToken).ConfigureAwait(false)).Result, "FunctionLoadRequest");
        Times = new HandshakeTimes(opened, initialized, _sinceStart.Elapsed);
    }

    // host.json's extensions.http.routePrefix ("api" when absent), as the host applies it to every HTTP route.
    private static string RoutePrefix()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppDirectory, "host.json")));
        return json.RootElement.TryGetProperty("extensions", out var extensions) && extensions.TryGetProperty("http", out var http)
               && http.TryGetProperty("routePrefix", out var prefix) ? prefix.GetString() ?? "" : "api";
    }

    private void EnsureSuccess(StatusResult? result, string request)
    {
        if (result is { Status: StatusResult.Types.Status.Success }) return;
        throw new InvalidOperationException($"The worker failed {request}: {result?.Exception?.Message}\n{result?.Exception?.StackTrace}\n{Output()}");
    }

    // Waits for what the worker should send, failing early (with its output) when the process exits.
    private async Task<T> WaitAsync<T>(Task<T> task, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var exited = _process.WaitForExitAsync(limit.Token);
        var first = await Task.WhenAny(task, exited).ConfigureAwait(false);
        if (first == task) return await task.ConfigureAwait(false);
        // Give a message already on its way a moment to arrive before calling the exit a failure.
        if (await Task.WhenAny(task, Task.Delay(500, CancellationToken.None)).ConfigureAwait(false) == task) return await task.ConfigureAwait(false);
        var why = _process.HasExited ? $"the worker exited with code {_process.ExitCode}" : $"nothing came within {timeout}";
        throw new TimeoutException($"Waiting for {what}: {why}.\n{Output()}");
    }

    private async Task StopProcessAsync()
    {
        try
        {
            using var grace = new CancellationTokenSource(ExitTimeout);
            await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            ExitedByItself = true;
        }
        catch (OperationCanceledException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.AppendLine(line);
            if (_output.Length > 200_000) _output.Remove(0, _output.Length - 100_000);
        }
    }
}

/// <summary>Times from the worker process's start to each step of the host's handshake.</summary>
public sealed record HandshakeTimes(TimeSpan StreamOpened, TimeSpan Initialized, TimeSpan FunctionsLoaded);

/// <summary>An HTTP request handled through the harness: the function the route chose, the worker's HTTP answer and its InvocationResponse.</summary>
public sealed record HttpInvocation(WorkerFunction? Function, HttpResponseMessage Response, InvocationResponse? Invocation) : IDisposable
{
    public int Status => (int)Response.StatusCode;

    public string? MediaType => Response.Content.Headers.ContentType?.MediaType;

    public void Dispose() => Response.Dispose();
}
