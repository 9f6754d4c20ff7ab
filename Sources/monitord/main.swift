import CLibc

exit(MonitordMain.run(arguments: ProcessArguments.arguments))
